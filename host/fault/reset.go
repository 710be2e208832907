package fault

import "math/rand/v2"

// Reset aborts the connection with a TCP RST instead of answering.
type Reset struct{}

func init() { Register("reset", func() Spec { return Reset{} }) }

func (Reset) Validate() error      { return nil }
func (Reset) Delivers() bool       { return false }
func (Reset) New(*rand.Rand) Fault { return Reset{} }

func (Reset) Deliver(w Wire, _ []byte) error {
	w.Reset()
	return nil
}
