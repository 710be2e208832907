package fault

import (
	"fmt"
	"math/rand/v2"

	"github.com/moov-io/iso8583"
)

// Corrupt sends a response the terminal must reject: the wrong STAN, the wrong
// MTI, no F39, a MAC that does not verify, or sign-on working keys whose check
// values do not match.
type Corrupt struct {
	// What is stan, mti, f39, mac or check-value.
	What string `yaml:"what" json:"what"`
}

func init() { Register("corrupt", func() Spec { return &Corrupt{What: "stan"} }) }

var corruptions = map[string]bool{"stan": true, "mti": true, "f39": true, "mac": true, "check-value": true}

func (c *Corrupt) Delivers() bool { return true }

func (c *Corrupt) Validate() error {
	if !corruptions[c.What] {
		return fmt.Errorf("corrupt: what must be stan, mti, f39, mac or check-value, not %q", c.What)
	}
	return nil
}

func (c *Corrupt) New(*rand.Rand) Fault { return *c }

var _ Editor = Corrupt{}

func (c Corrupt) Edit(m *iso8583.Message) error {
	switch c.What {
	case "stan":
		stan, _ := m.GetString(11)
		n := 0
		fmt.Sscanf(stan, "%d", &n)
		return m.Field(11, fmt.Sprintf("%06d", (n+1)%1000000))
	case "mti": // the request's own MTI back: 0210 -> 0200
		mti, _ := m.GetMTI()
		if len(mti) == 4 && mti[2] > '0' {
			m.MTI(mti[:2] + string(mti[2]-1) + mti[3:])
		}
	case "f39":
		m.UnsetField(39)
	case "check-value":
		f := m.GetField(62)
		if f == nil {
			return nil
		}
		keys, err := f.Bytes()
		if err != nil || len(keys) == 0 {
			return err
		}
		keys = append([]byte(nil), keys...)
		keys[len(keys)-1] ^= 0xFF // the last key's check value
		return m.BinaryField(62, keys)
	}
	return nil
}

func (c Corrupt) Deliver(w Wire, frame []byte) error {
	if c.What == "mac" && len(frame) > 0 {
		frame = append([]byte(nil), frame...)
		// F64 is the last field: change its last character, keeping it hex.
		if frame[len(frame)-1] == '0' {
			frame[len(frame)-1] = '1'
		} else {
			frame[len(frame)-1] = '0'
		}
	}
	return w.Write(frame)
}
