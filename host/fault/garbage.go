package fault

import (
	"fmt"
	"math/rand/v2"
)

// Garbage sends random bytes instead of the response; the connection stays open.
type Garbage struct {
	// Bytes is how many bytes to send; default 16.
	Bytes int `yaml:"bytes" json:"bytes,omitempty"`

	data []byte
}

func init() { Register("garbage", func() Spec { return &Garbage{Bytes: 16} }) }

// Delivers: garbage takes the answer's place.
func (g *Garbage) Delivers() bool { return false }

func (g *Garbage) Validate() error {
	if g.Bytes < 1 || g.Bytes > 65536 {
		return fmt.Errorf("garbage: bytes must be between 1 and 65536, not %d", g.Bytes)
	}
	return nil
}

func (g *Garbage) New(rng *rand.Rand) Fault {
	data := make([]byte, g.Bytes)
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	return &Garbage{Bytes: g.Bytes, data: data}
}

func (g *Garbage) Deliver(w Wire, _ []byte) error { return w.Write(g.data) }
