package fault

import "math/rand/v2"

// Close hangs up with a normal FIN, before the response or after it.
type Close struct {
	// After sends the response first, then closes.
	After bool `yaml:"after" json:"after,omitempty"`
}

func init() { Register("close", func() Spec { return &Close{} }) }

func (c *Close) Validate() error      { return nil }
func (c *Close) Delivers() bool       { return c.After }
func (c *Close) New(*rand.Rand) Fault { return *c }

func (c Close) Deliver(w Wire, frame []byte) error {
	var err error
	if c.After {
		err = w.Write(frame)
	}
	w.Close()
	return err
}
