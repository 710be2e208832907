// Package fault holds the ways a response can reach a terminal other than
// whole and on time: dropped, cut short, doubled, replaced by garbage, or the
// connection closed or reset under it. Each fault is a small type in its own
// file, registered by name, so a scenario names it and the host applies it
// without knowing which one it is.
package fault

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/moov-io/iso8583"
)

// Wire is a terminal's connection, as a fault sees it.
type Wire interface {
	// Write sends bytes whole (a frame, or whatever the fault makes of one).
	Write(b []byte) error
	// Close closes the connection with a normal FIN.
	Close()
	// Reset closes the connection with a TCP RST.
	Reset()
	// Later runs f after d, unless the host shuts down first. It does not
	// block the connection meanwhile.
	Later(d time.Duration, f func())
	// Refuse makes the host turn away new connections for d: every one when
	// the global scenario decided, or only the terminal's own when its own
	// scenario did, each at its first message, so that no other terminal
	// notices.
	Refuse(d time.Duration)
}

// MaxDuration is the longest any fault's duration may be: a day outlasts any
// test run, and a typo such as 2562047h fails validation instead of
// overflowing the host's clock arithmetic.
const MaxDuration = 24 * time.Hour

// checkDuration says what is wrong with a fault's duration parameter: it
// must not be negative (positive, when zero means nothing) or above
// MaxDuration.
func checkDuration(fault, param string, d time.Duration, positive bool) error {
	switch {
	case positive && d <= 0:
		return fmt.Errorf("%s: %s must be positive, not %v", fault, param, d)
	case d < 0:
		return fmt.Errorf("%s: %s must not be negative, not %v", fault, param, d)
	case d > MaxDuration:
		return fmt.Errorf("%s: %s must be at most %v, not %v", fault, param, MaxDuration, d)
	}
	return nil
}

// Fault delivers a response frame (length header, preamble and message) its
// own way.
type Fault interface {
	Deliver(w Wire, frame []byte) error
}

// Editor is a fault that also changes the response message before it is packed.
type Editor interface {
	Edit(m *iso8583.Message) error
}

// Spec is a fault as a scenario file configures it. Its fields are the
// fault's parameters, decoded strictly from YAML.
type Spec interface {
	// Validate says what is wrong with the parameters, at load time.
	Validate() error
	// New returns the fault for one exchange; rng draws anything random.
	New(rng *rand.Rand) Fault
	// Delivers reports whether the terminal gets the host's answer at all
	// (whole, late, twice or spoilt): a fault that does not deliver leaves a
	// request answered in the books but not on the wire.
	Delivers() bool
}

var registry = map[string]func() Spec{}

// Register makes a fault available to scenarios under name.
func Register(name string, newSpec func() Spec) {
	if _, dup := registry[name]; dup {
		panic("fault: " + name + " registered twice")
	}
	registry[name] = newSpec
}

// Lookup returns a new, default Spec for the named fault.
func Lookup(name string) (Spec, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown action %q (want one of %v)", name, Names())
	}
	return f(), nil
}

// Names lists the registered faults.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
