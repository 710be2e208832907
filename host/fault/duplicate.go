package fault

import (
	"math/rand/v2"
	"time"
)

// Duplicate sends the response twice, the second after a gap.
type Duplicate struct {
	// Gap is the time between the two copies, at most a day (MaxDuration);
	// zero sends them back to back.
	Gap time.Duration `yaml:"gap" json:"gap,omitempty"`
}

func init() { Register("duplicate", func() Spec { return &Duplicate{} }) }

func (d *Duplicate) Delivers() bool { return true }

func (d *Duplicate) Validate() error {
	return checkDuration("duplicate", "gap", d.Gap, false)
}

func (d *Duplicate) New(*rand.Rand) Fault { return *d }

func (d Duplicate) Deliver(w Wire, frame []byte) error {
	if err := w.Write(frame); err != nil {
		return err
	}
	if d.Gap == 0 {
		return w.Write(frame)
	}
	again := append([]byte(nil), frame...)
	w.Later(d.Gap, func() { w.Write(again) })
	return nil
}
