package fault

import (
	"math/rand/v2"
	"time"
)

// Refuse answers normally, then has the host turn away new connections for a
// while, as during maintenance. From the global scenario, every new
// connection is accepted and reset at once; from a scenario bound to one
// terminal, only that terminal's new connections are reset, at their first
// message (the host cannot tell whose a connection is before), and no other
// terminal notices.
type Refuse struct {
	// For is how long new connections are refused: positive, at most a day
	// (MaxDuration); default 30s.
	For time.Duration `yaml:"for" json:"for,omitempty"`
}

func init() { Register("refuse", func() Spec { return &Refuse{For: 30 * time.Second} }) }

// Delivers: a refused terminal's requests never reach the host; one that
// did was answered.
func (r *Refuse) Delivers() bool { return true }

func (r *Refuse) Validate() error {
	return checkDuration("refuse", "for", r.For, true)
}

func (r *Refuse) New(*rand.Rand) Fault { return *r }

func (r Refuse) Deliver(w Wire, frame []byte) error {
	w.Refuse(r.For)
	return w.Write(frame)
}
