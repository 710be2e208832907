package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/acqsim/acqsim/fixtures"
)

// Library is a set of scenarios by name: the built-in ones and any loaded since.
type Library struct {
	// Fields, when set, checks the response fields a scenario sets as it is
	// added (Compiled.CheckFields): the host's dialect.
	Fields func(id int, value string) error

	mu      sync.RWMutex
	byName  map[string]*Compiled
	builtIn map[string]bool // the embedded scenarios' names
}

// ErrNameTaken reports a scenario named as a built-in one.
var ErrNameTaken = errors.New("the name of a built-in scenario")

// BuiltIn loads the scenario library embedded in the binary. Each file is
// named after its scenario.
func BuiltIn() (*Library, error) {
	lib := &Library{byName: map[string]*Compiled{}, builtIn: map[string]bool{}}
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		raw, err := fixtures.Scenarios.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c, err := Load("fixtures/"+f, raw)
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSuffix(path.Base(f), ".yaml"); c.Name != want {
			return nil, fmt.Errorf("fixtures/%s: scenario is named %q, want %q", f, c.Name, want)
		}
		lib.byName[c.Name] = c
		lib.builtIn[c.Name] = true
	}
	return lib, nil
}

// Get returns the named scenario.
func (l *Library) Get(name string) (*Compiled, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	c, ok := l.byName[name]
	return c, ok
}

// Add adds (or replaces) a scenario under its name.
// It refuses a name of the built-in library: those stay what they are for
// the host's life (another host's test may be using one).
func (l *Library) Add(c *Compiled) error {
	if l.Fields != nil {
		if err := c.CheckFields(l.Fields); err != nil {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.builtIn[c.Name] {
		return fmt.Errorf("%s is %w; name yours otherwise", quote(c.Name), ErrNameTaken)
	}
	l.byName[c.Name] = c
	return nil
}

// All returns the scenarios sorted by name.
func (l *Library) All() []*Compiled {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*Compiled, 0, len(l.byName))
	for _, c := range l.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
