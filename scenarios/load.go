package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/host/fault"
)

// LoadFile reads, decodes and validates a scenario file, within the default
// budget.
func LoadFile(path string) (*Compiled, error) { return Budget{}.LoadFile(path) }

// LoadFile reads, decodes and validates a scenario file, refusing
// expressions beyond b.
func (b Budget) LoadFile(path string) (*Compiled, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return b.Load(path, raw)
}

// Load decodes and validates a scenario within the default budget; see
// Budget.Load.
func Load(source string, raw []byte) (*Compiled, error) { return Budget{}.Load(source, raw) }

// Load decodes and validates a scenario; source names it in errors
// ("file.yaml:12: ..."). Every problem is found here, never while a request
// is being answered.
//
// The error lists every problem found, one a line, each "source:line:
// reason": first those of decoding (YAML syntax, unknown keys, values of the
// wrong kind, unknown actions, bad delays), in the order of the file; when
// the file decodes, those of validation, in the order they are checked. Its
// first line is the problem a loader reporting one alone would give. The
// error unwraps (errors.Join) to one error a problem.
//
// An expression beyond b's load-time part (Nodes, Literal, Cost) is a
// problem like any other.
func (b Budget) Load(source string, raw []byte) (c *Compiled, err error) {
	// The YAML library panics on a few inputs (a merge key with a mapping for
	// a key, found by fuzzing); a file must never take the host down.
	defer func() {
		if p := recover(); p != nil {
			reason := strings.ReplaceAll(fmt.Sprint(p), "\n", " ")
			c, err = nil, &LoadError{Source: source, Line: 1, Reason: tidy("the YAML cannot be read as a scenario (" + reason + ")")}
		}
	}()
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		if line, col, what, ok := badCharacter(raw); ok {
			return nil, &LoadError{Source: source, Line: line, Column: col, Reason: what}
		}
		return nil, loadError(source, err)
	}
	if len(root.Content) == 0 {
		return nil, &LoadError{Source: source, Line: 1, Reason: "empty scenario"}
	}
	var sc Scenario
	if err := decodeOne(source, raw, &sc); err != nil {
		// What did decode is not checked further: a value that did not
		// decode is left empty, and checking it would report a second,
		// made-up problem ("needs max_amount") about the same line.
		return nil, err
	}
	var found problems
	c = compile(&sc, locator{root.Content[0]}, &found, b.withDefaults())
	if len(found) > 0 {
		return nil, found.in(source)
	}
	c.Source, c.source = raw, source
	return c, nil
}

// problems collects what validation finds wrong with a scenario, in the
// order found, so that a file's author sees every problem at once rather
// than one per try.
type problems []error

// add records err, if there is one.
func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

// in gives the problems as one error, each line prefixed with the source.
func (p problems) in(source string) error {
	errs := make([]error, len(p))
	for i, e := range p {
		errs[i] = atLine(source, tidied{e})
	}
	return errors.Join(errs...)
}

// LoadError is one problem of a scenario file: where it is and what is
// wrong. The error Load returns is one *LoadError, or several joined
// (errors.Join): Problems lists them.
type LoadError struct {
	// Source names the file (or "body:" for a scenario sent to the admin API).
	Source string
	// Line is 1-based; 0 for a problem the YAML library gave no line for.
	Line int
	// Column is 1-based where known, else 0.
	Column int
	// Reason says what is wrong, its values quoted and bounded.
	Reason string
	err    error
}

// Error is "source:line: reason", or "source:line:column: reason".
func (e *LoadError) Error() string {
	switch {
	case e.Line == 0:
		return e.Source + ":" + e.Reason
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Column, e.Reason)
}

// Unwrap gives what the problem was found as, for errors.As.
func (e *LoadError) Unwrap() error { return e.err }

// Problems lists the problems a load error holds, in its order; nil for an
// error that is not a scenario's.
func Problems(err error) []*LoadError {
	var out []*LoadError
	var walk func(error)
	walk = func(err error) {
		if le, ok := err.(*LoadError); ok {
			out = append(out, le)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// atLine makes err, whose text is "line: reason" (or a reason alone), a
// problem of source.
func atLine(source string, err error) *LoadError {
	msg := err.Error()
	le := &LoadError{Source: source, Reason: msg, err: err}
	if i := strings.Index(msg, ": "); i > 0 {
		if n, perr := strconv.Atoi(msg[:i]); perr == nil && n > 0 {
			le.Line, le.Reason = n, msg[i+2:]
		}
	}
	return le
}

// tidied is a validation problem as an error shows it: bounded.
type tidied struct{ err error }

func (t tidied) Error() string { return clip(t.err.Error(), lineMax) } // its values are shown already
func (t tidied) Unwrap() error { return t.err }

// decodeOne decodes the file's single document strictly into sc.
func decodeOne(source string, raw []byte, sc *Scenario) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(sc); err != nil {
		return loadError(source, err)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return loadError(source, err)
	case len(more.Content) > 0: // an empty trailing document is no scenario
		return &LoadError{Source: source, Line: more.Content[0].Line, Reason: "one scenario per file (a second YAML document is here)"}
	}
	return nil
}

var lineRE = regexp.MustCompile(`line (\d+): `)

// loadError turns the YAML library's errors into "file:line: reason" lines,
// one error a line (errors.Join).
func loadError(source string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var lines []error
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if m := lineRE.FindStringSubmatchIndex(l); m != nil && m[0] == 0 {
			l = l[m[2]:m[3]] + ": " + l[m[1]:]
		} else if m != nil {
			l = l[m[2]:m[3]] + ": " + l[:m[0]] + l[m[1]:]
		}
		lines = append(lines, atLine(source, errors.New(tidy(l))))
	}
	return errors.Join(lines...)
}

// goOn makes an UnmarshalYAML method's error a *yaml.TypeError, one entry a
// line: the YAML library then records it and decodes the rest of the file,
// where any other error stops it at the first problem.
func goOn(err error) error {
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return te
	}
	return &yaml.TypeError{Errors: strings.Split(err.Error(), "\n")}
}

// lineError is a validation problem at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

// errorAt is a decoding problem at a line, its strings shown (shown).
func errorAt(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, shownArgs(args)...))
}

// locator finds where a value is in the file, for error messages.
type locator struct{ n *yaml.Node }

// at walks mapping keys (string) and sequence indexes (int) as far as they go.
func (l locator) at(path ...any) locator {
	n := l.n
	for _, p := range path {
		var next *yaml.Node
		switch key := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && key < len(n.Content) {
				next = n.Content[key]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return locator{n}
}

func (l locator) errorf(format string, args ...any) error {
	return &lineError{line: l.n.Line, msg: fmt.Sprintf(format, shownArgs(args)...)}
}

// UnmarshalYAML reads an action: a name ("reset"), or a name with
// parameters ({garbage: {bytes: 32}}), decoded strictly.
func (a *Action) UnmarshalYAML(n *yaml.Node) error { return goOn(a.unmarshal(n)) }

func (a *Action) unmarshal(n *yaml.Node) error {
	var params *yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode:
		a.Name = n.Value
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		a.Name, params = n.Content[0].Value, n.Content[1]
	default:
		return fmt.Errorf("line %d: action: want a name or {name: {parameters}}", n.Line)
	}
	spec, err := fault.Lookup(a.Name)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	if params != nil && !(params.Kind == yaml.ScalarNode && params.Value == "") {
		if err := decodeStrict(params, spec); err != nil {
			return err
		}
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	a.Spec = spec
	return nil
}

// MarshalYAML writes an action back as its name and parameters.
func (a Action) MarshalYAML() (any, error) {
	return map[string]any{a.Name: a.Spec}, nil
}

// UnmarshalYAML reads "45s", "1s..5s" or a distribution mapping.
func (d *Delay) UnmarshalYAML(n *yaml.Node) error { return goOn(d.unmarshal(n)) }

func (d *Delay) unmarshal(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		lo, hi, isRange := strings.Cut(n.Value, "..")
		min, err := time.ParseDuration(strings.TrimSpace(lo))
		if err != nil {
			return errorAt(n.Line, "delay %q: want a duration such as 45s, a range such as 1s..5s, or a distribution", n.Value)
		}
		d.Min, d.Max = min, min
		if isRange {
			d.Distribution = "uniform"
			if d.Max, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
				return errorAt(n.Line, "delay %q: the range's upper end is not a duration", n.Value)
			}
		}
		return d.validate(n.Line)
	}
	type delay Delay // without this method, so decoding does not recurse
	var p delay
	if err := decodeStrict(n, &p); err != nil {
		return err
	}
	*d = Delay(p)
	return d.validate(n.Line)
}

func (d *Delay) validate(line int) error {
	bad := func(format string, args ...any) error {
		return errorAt(line, "delay: %s", fmt.Sprintf(format, shownArgs(args)...))
	}
	switch d.Distribution {
	case "", "fixed":
		if d.Mean != 0 || d.StdDev != 0 {
			return bad("mean and stddev need a distribution (normal or exponential)")
		}
		if d.Max == 0 {
			d.Max = d.Min
		}
		if d.Min != d.Max {
			return bad("a fixed delay has one value; use distribution: uniform for a range")
		}
	case "uniform":
		if d.Max < d.Min {
			return bad("max %v is below min %v", d.Max, d.Min)
		}
	case "normal":
		if d.Mean <= 0 || d.StdDev < 0 {
			return bad("a normal delay needs a positive mean and a non-negative stddev")
		}
	case "exponential":
		if d.Mean <= 0 {
			return bad("an exponential delay needs a positive mean")
		}
	default:
		return bad("distribution %q: want uniform, normal or exponential", d.Distribution)
	}
	if d.Min < 0 || d.Max < 0 {
		return bad("must not be negative")
	}
	if d.Min > MaxDelay || d.Max > MaxDelay || d.Mean > MaxDelay || d.StdDev > MaxDelay {
		return bad("at most %v: a scenario holds an answer back a day at the most", MaxDelay)
	}
	return nil
}

// The longest durations a scenario may give: longer ones would do nothing
// a test could wait for, and far longer ones (2562047h) overflow the clock
// they are added to.
const (
	// MaxDelay bounds a delay (min, max, mean and stddev alike).
	MaxDelay = 24 * time.Hour
	// MaxFundsDelay bounds a merchant's funds_delay.
	MaxFundsDelay = 31 * 24 * time.Hour
)

// decodeStrict decodes a node, refusing keys the target does not have. Its
// problems are placed at the node's line: the lines the YAML library gives
// count from the node, not the file.
func decodeStrict(n *yaml.Node, v any) error {
	raw, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err = dec.Decode(v)
	if err == nil {
		return nil
	}
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := &yaml.TypeError{}
	for _, msg := range msgs {
		for _, l := range strings.Split(msg, "\n") {
			if l = lineRE.ReplaceAllString(strings.TrimSpace(l), ""); l != "" {
				out.Errors = append(out.Errors, fmt.Sprintf("line %d: %s", n.Line, l))
			}
		}
	}
	return out
}

// rcPattern is what a response code looks like: two letters or digits.
var rcPattern = regexp.MustCompile(`^[0-9A-Z]{2}$`)

func validRC(rc string) bool { return rcPattern.MatchString(rc) }

func itoa(n int) string { return strconv.Itoa(n) }
