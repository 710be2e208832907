package fault

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Refuse answers normally, then has the host turn away new connections for a
// while (each is accepted and reset at once), as during maintenance.
type Refuse struct {
	// For is how long new connections are refused; default 30s.
	For time.Duration `yaml:"for" json:"for,omitempty"`
}

func init() { Register("refuse", func() Spec { return &Refuse{For: 30 * time.Second} }) }

func (r *Refuse) Validate() error {
	if r.For <= 0 {
		return fmt.Errorf("refuse: for must be positive")
	}
	return nil
}

func (r *Refuse) New(*rand.Rand) Fault { return *r }

func (r Refuse) Deliver(w Wire, frame []byte) error {
	w.Refuse(r.For)
	return w.Write(frame)
}
