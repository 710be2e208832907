package books

import (
	"fmt"
	"math/rand/v2"

	"github.com/acqsim/acqsim/keys"
)

// WorkingKeys are the keys a cup sign-on hands out, in clear.
type WorkingKeys struct {
	PIN, MAC, Track []byte
}

// newWorkingKeys draws fresh keys for a sign-on of the given 60.3 code, and
// returns them with F62: each key encrypted under the master key, followed by
// its check value. A code that asks for no keys gives none.
func newWorkingKeys(rng *rand.Rand, master []byte, code string) (WorkingKeys, []byte, error) {
	layout, ok := keys.WorkingKeyLength[code]
	if !ok {
		return WorkingKeys{}, nil, nil
	}
	draw := func() []byte {
		k := make([]byte, layout.Bytes)
		for i := range k {
			k[i] = byte(rng.UintN(256))
		}
		return k
	}
	wk := WorkingKeys{PIN: draw(), MAC: draw()}
	if layout.Track {
		wk.Track = draw()
	}
	var f62 []byte
	for _, k := range [][]byte{wk.PIN, wk.MAC, wk.Track} {
		if k == nil {
			continue
		}
		enc, err := keys.Encrypt(master, k)
		if err != nil {
			return WorkingKeys{}, nil, fmt.Errorf("encrypting a working key: %w", err)
		}
		cv, err := keys.CheckValue(k)
		if err != nil {
			return WorkingKeys{}, nil, err
		}
		f62 = append(append(f62, enc...), cv...)
	}
	return wk, f62, nil
}
