package fault

import "math/rand/v2"

// NoResponse drops the response: the terminal times out and, for a financial
// request, sends a reversal.
type NoResponse struct{}

func init() { Register("no-response", func() Spec { return NoResponse{} }) }

var _ Fault = NoResponse{}

func (NoResponse) Validate() error            { return nil }
func (NoResponse) Delivers() bool             { return false }
func (NoResponse) New(*rand.Rand) Fault       { return NoResponse{} }
func (NoResponse) Deliver(Wire, []byte) error { return nil }
