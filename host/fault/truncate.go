package fault

import (
	"fmt"
	"math/rand/v2"
)

// Truncate sends the first part of the response, then closes the connection:
// the terminal sees half a frame.
type Truncate struct {
	// Bytes is how many bytes of the frame to send; 0 means half of it.
	Bytes int `yaml:"bytes" json:"bytes,omitempty"`
}

func init() { Register("truncate", func() Spec { return &Truncate{} }) }

// Delivers: the answer is sent, cut short.
func (t *Truncate) Delivers() bool { return true }

func (t *Truncate) Validate() error {
	if t.Bytes < 0 {
		return fmt.Errorf("truncate: bytes must not be negative")
	}
	return nil
}

func (t *Truncate) New(*rand.Rand) Fault { return *t }

func (t Truncate) Deliver(w Wire, frame []byte) error {
	n := t.Bytes
	if n == 0 || n >= len(frame) {
		n = len(frame) / 2
	}
	err := w.Write(frame[:n])
	w.Close()
	return err
}
