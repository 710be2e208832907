package scenarios

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// Compiled is a validated scenario with its expressions compiled, ready to
// decide. It holds no state: an Engine keeps the counters per binding.
type Compiled struct {
	Scenario
	// Source is the scenario file as it was loaded.
	Source []byte
	source string // its name, for errors
	// sets are the response fields the scenario sets, for CheckFields.
	sets   []fieldSet
	rules  []compiledRule
	limits []Limit
	books  compiledBooks
}

type compiledRule struct {
	Rule
	match *vm.Program // nil matches everything
	// fast, when not nil, is match as Go: it gives what match gives, for a
	// fraction of the time (see fastMatch).
	fast func(*Env) bool
	// txns, when not nil, are the only transaction types match can be true
	// for: other requests skip the rule without running it.
	txns map[string]bool
	// txnBits is txns as a set of txnBit: a test of one bit per rule where
	// the map costs a string hash per rule.
	txnBits uint32
	label   string // the rule's name, or "rule N"
}

// Env is what a rule's match expression sees.
type Env struct {
	MTI       string    `expr:"mti"`
	Txn       string    `expr:"txn"`
	Proc      string    `expr:"proc"`
	Amount    int64     `expr:"amount"`
	Currency  string    `expr:"currency"`
	PAN       string    `expr:"pan"`
	BIN       string    `expr:"bin"`
	TID       string    `expr:"tid"`
	MID       string    `expr:"mid"`
	STAN      string    `expr:"stan"`
	RRN       string    `expr:"rrn"`
	Batch     string    `expr:"batch"`
	EntryMode string    `expr:"entry_mode"`
	Now       time.Time `expr:"now"`
	// Field returns a request field's value by number, "" when absent.
	Field func(int) string `expr:"field"`
	// Between is true when the host's time of day is in [from, to); a window
	// may run past midnight ("23:50", "00:10").
	Between func(from, to string) bool `expr:"between"`
	// Tag returns a tag of the chip data (F55) as upper-case hex, "" when
	// absent: tag("9F27") == "80" is an ARQC.
	Tag func(string) string `expr:"tag"`
	// Chip is the issuer's check of the card's cryptogram: "valid",
	// "failed", "unchecked" (the card's profile says verify: none), or ""
	// when the request carries none.
	Chip string `expr:"chip"`
	// CardSeq is the chip card's sequence number (F23).
	CardSeq string `expr:"card_seq"`
	// Contactless is a card read without contact (F22 07x or 91x).
	Contactless bool `expr:"contactless"`
	// Fallback is a magstripe read of a chip card: F22 80x, or a track read
	// (02x, 90x) whose service code starts with 2 or 6.
	Fallback bool `expr:"fallback"`
}

// envTypes is Env as a map, each name with a value of its type: expressions
// compile against it and run against Env.fill's map, which expr reads with a
// plain map lookup, where a struct costs a reflective fetch and a boxing per
// name a rule reads (5x the time of a rule).
var envTypes = func() map[string]any {
	m := map[string]any{}
	(&Env{Field: func(int) string { return "" }, Between: func(string, string) bool { return false },
		Tag: func(string) string { return "" }}).fill(m)
	return m
}()

// fill puts e's values in m under their expression names.
func (e *Env) fill(m map[string]any) {
	m["mti"], m["txn"], m["proc"], m["amount"], m["currency"] = e.MTI, e.Txn, e.Proc, e.Amount, e.Currency
	m["pan"], m["bin"], m["tid"], m["mid"], m["stan"], m["rrn"] = e.PAN, e.BIN, e.TID, e.MID, e.STAN, e.RRN
	m["batch"], m["entry_mode"], m["now"], m["field"], m["between"] = e.Batch, e.EntryMode, e.Now, e.Field, e.Between
	m["tag"], m["chip"], m["card_seq"], m["contactless"], m["fallback"] = e.Tag, e.Chip, e.CardSeq, e.Contactless, e.Fallback
}

var (
	validTxn = map[string]bool{}
	// txnBit gives each transaction type a bit of its own, for compiledRule.txnBits.
	txnBit = map[string]uint32{}
)

func init() {
	for i, info := range txn.Types {
		t := info.Type
		validTxn[string(t)] = true
		txnBit[string(t)] = 1 << i
	}
}

// literalChecker refuses, at compile time, what would only fail per message:
// a between() with a time that does not parse, a txn name that does not exist.
type literalChecker struct{ err error }

func (c *literalChecker) Visit(node *ast.Node) {
	fail := func(err error) {
		if c.err == nil {
			c.err = err
		}
	}
	switch n := (*node).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "between" {
			for _, arg := range n.Arguments {
				if s, ok := arg.(*ast.StringNode); ok {
					if _, err := timeOfDay(s.Value); err != nil {
						fail(err)
					}
				}
			}
		}
	case *ast.BinaryNode:
		var names []ast.Node
		switch n.Operator {
		case "==", "!=":
			if isTxn(n.Left) {
				names = append(names, n.Right)
			} else if isTxn(n.Right) {
				names = append(names, n.Left)
			}
		case "in", "not in":
			if arr, ok := n.Right.(*ast.ArrayNode); ok && isTxn(n.Left) {
				names = arr.Nodes
			}
		}
		for _, name := range names {
			if s, ok := name.(*ast.StringNode); ok && !validTxn[s.Value] {
				fail(fmt.Errorf("txn is never %s", quote(s.Value)))
			}
		}
	}
}

// txnSet works out from a match expression which transaction types it can
// be true for, or nil when it cannot tell: txn == "sale" gives {sale}, txn in
// [...] the list, && the intersection, || the union.
func txnSet(n ast.Node) map[string]bool {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil
	}
	switch b.Operator {
	case "&&", "and":
		l, r := txnSet(b.Left), txnSet(b.Right)
		switch {
		case l == nil:
			return r
		case r == nil:
			return l
		}
		both := map[string]bool{}
		for t := range l {
			if r[t] {
				both[t] = true
			}
		}
		return both
	case "||", "or":
		l, r := txnSet(b.Left), txnSet(b.Right)
		if l == nil || r == nil {
			return nil
		}
		either := map[string]bool{}
		for t := range l {
			either[t] = true
		}
		for t := range r {
			either[t] = true
		}
		return either
	case "==":
		if s, ok := b.Right.(*ast.StringNode); ok && isTxn(b.Left) {
			return map[string]bool{s.Value: true}
		}
		if s, ok := b.Left.(*ast.StringNode); ok && isTxn(b.Right) {
			return map[string]bool{s.Value: true}
		}
	case "in":
		if arr, ok := b.Right.(*ast.ArrayNode); ok && isTxn(b.Left) {
			set := map[string]bool{}
			for _, e := range arr.Nodes {
				s, ok := e.(*ast.StringNode)
				if !ok {
					return nil
				}
				set[s.Value] = true
			}
			return set
		}
	}
	return nil
}

func isTxn(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "txn"
}

// compileTypes are what expressions compile against: the names of Env, and
// the meter's step function.
var compileTypes = func() map[string]any {
	m := map[string]any{stepName: func() bool { return true }}
	for k, v := range envTypes {
		m[k] = v
	}
	return m
}()

// compileMatch compiles a match expression, refusing one beyond the
// budget's load-time part; its predicates count their steps (meter).
func compileMatch(src string, b Budget) (*vm.Program, error) {
	b = b.withDefaults()
	// The tree is read before expr compiles it: a shape beyond the budget is
	// refused without the cost of compiling it, whose optimiser would build
	// the literal ranges it holds.
	if tree, err := parser.Parse(src); err == nil {
		if err := checkCost(tree.Node, b); err != nil {
			return nil, err
		}
	}
	check := &literalChecker{}
	prog, err := expr.Compile(src, expr.Env(compileTypes), expr.AsBool(), expr.Patch(check), expr.Patch(meter{}))
	if err != nil {
		return nil, err
	}
	return prog, check.err
}

// timeOfDay reads "HH:MM" as minutes after midnight.
func timeOfDay(s string) (int, error) {
	d, err := books.ParseTimeOfDay(s)
	return int(d / time.Minute), err
}

var (
	pers    = map[string]bool{"": true, "terminal": true, "card": true, "merchant": true, "global": true}
	periods = map[string]bool{"txn": true, "day": true, "month": true}
	status  = map[string]bool{"": true, "active": true, "frozen": true, "closed": true, "unregistered": true,
		"settlement-suspended": true, "void-disabled": true}
)

// compile validates a decoded scenario and compiles its expressions,
// adding every problem it finds to found; the scenario is only of use when it
// found none.
func compile(sc *Scenario, at locator, found *problems, budget Budget) *Compiled {
	if sc.Name == "" {
		found.add(at.errorf("name: every scenario needs a name"))
	}
	c := &Compiled{Scenario: *sc, limits: sc.Limits}
	for i, r := range sc.Rules {
		here := at.at("rules", i)
		cr := compiledRule{Rule: r, label: r.Name}
		if cr.label == "" {
			cr.label = "rule " + itoa(i+1)
		}
		if r.Match != "" {
			prog, err := compileMatch(r.Match, budget)
			if err != nil {
				found.add(here.at("match").errorf("rule %q: match: %v", cr.label, oneLine(err)))
			}
			cr.match = prog
			// expr has accepted the expression, so its names and types are
			// sound: its tree can be read for what it says.
			if tree, err := parser.Parse(r.Match); err == nil && prog != nil {
				cr.txns = txnSet(tree.Node)
				for t := range cr.txns {
					cr.txnBits |= txnBit[t]
				}
				cr.fast = fastMatch(tree.Node)
			}
		}
		if !pers[r.Per] {
			found.add(here.at("per").errorf("rule %q: per %q: want terminal, card, merchant or global", cr.label, r.Per))
		}
		if p := r.Probability; p != nil && !(*p >= 0 && *p <= 1) { // NaN too
			found.add(here.at("probability").errorf("rule %q: probability %v: want 0 to 1", cr.label, *p))
		}
		if r.Every < 0 {
			found.add(here.at("every").errorf("rule %q: every must not be negative", cr.label))
		}
		if len(r.Steps) > 0 && !r.Outcome.empty() {
			found.add(here.errorf("rule %q: has both steps and its own respond/delay/action; put them in a step", cr.label))
		}
		r.Outcome.check(here, cr.label, found)
		c.sets = append(c.sets, r.Outcome.fieldSets(here, cr.label)...)
		for j, s := range r.Steps {
			sh := here.at("steps", j)
			if s.Times < 0 {
				found.add(sh.at("times").errorf("rule %q step %d: times must not be negative", cr.label, j+1))
			}
			if s.Times == 0 && j != len(r.Steps)-1 {
				found.add(sh.errorf("rule %q step %d: only the last step may go on for ever (give it times:)", cr.label, j+1))
			}
			s.Outcome.check(sh, fmt.Sprintf("%s step %d", cr.label, j+1), found)
			c.sets = append(c.sets, s.Outcome.fieldSets(sh, fmt.Sprintf("%s step %d", cr.label, j+1))...)
		}
		c.rules = append(c.rules, cr)
	}
	for i, l := range sc.Limits {
		here := at.at("limits", i)
		switch {
		case l.Per != "" && l.Per != "card" && l.Per != "terminal" && l.Per != "merchant":
			found.add(here.at("per").errorf("limit %d: per %q: want card, terminal or merchant", i+1, l.Per))
		case !periods[l.Period]:
			found.add(here.at("period").errorf("limit %d: period %q: want txn, day or month", i+1, l.Period))
		case l.MaxAmount <= 0 && l.MaxCount <= 0:
			found.add(here.errorf("limit %d: needs max_amount or max_count", i+1))
		case l.MaxAmount > 0 && l.MaxCount > 0:
			found.add(here.errorf("limit %d: give max_amount or max_count, not both (make two limits)", i+1))
		case l.Period == "txn" && l.MaxCount > 0:
			found.add(here.errorf("limit %d: a per-transaction limit can only cap the amount", i+1))
		case l.RC != "" && !validRC(l.RC):
			found.add(here.at("rc").errorf("limit %d: rc %q: want two digits or letters", i+1, l.RC))
		}
		if c.limits[i].RC == "" {
			c.limits[i].RC = "61"
			if l.MaxCount > 0 {
				c.limits[i].RC = "65"
			}
		}
	}
	c.books.calendar = compileCalendar(sc.Calendar, at.at("calendar"), found)
	if ch := sc.Chip; ch != nil && ch.ARQCFailedRC != "" && !validRC(ch.ARQCFailedRC) {
		found.add(at.at("chip", "arqc_failed_rc").errorf("chip: arqc_failed_rc %q: want two digits or letters", ch.ARQCFailedRC))
	}
	for i, b := range sc.BINs {
		if b.Prefix == "" || strings.Trim(b.Prefix, "0123456789") != "" || b.Type != "debit" && b.Type != "credit" {
			found.add(at.at("bins", i).errorf("bins %d: want a prefix of digits and type debit or credit", i+1))
		}
	}
	for _, kind := range []string{"merchants", "terminals"} {
		parties := sc.Merchants
		if kind == "terminals" {
			parties = sc.Terminals
		}
		for _, id := range inFileOrder(parties, at.at(kind)) {
			p, here := parties[id], at.at(kind, id)
			if p.Settlement != nil {
				if kind == "terminals" {
					found.add(here.at("settlement").errorf("terminals %q: settlement belongs to merchants", partyID(id)))
				} else {
					checkSettlement(p.Settlement, here.at("settlement"), composed(fmt.Sprintf("merchants %q", partyID(id))), found)
					if c.books.products == nil {
						c.books.products = map[string]*books.Product{}
					}
					c.books.products[id] = productOf(p.Settlement)
				}
			}
			if !status[p.Status] {
				found.add(here.at("status").errorf("%s %q: status %q: want active, frozen, closed, unregistered, settlement-suspended or void-disabled", kind, partyID(id), p.Status))
			}
			if p.RC != "" && !validRC(p.RC) {
				found.add(here.at("rc").errorf("%s %q: rc %q: want two digits or letters", kind, partyID(id), p.RC))
			}
		}
	}
	return c
}

// inFileOrder lists a mapping's keys in the order the file gives them, so
// that its problems are reported in that order, run after run.
func inFileOrder(parties map[string]Party, at locator) []string {
	ids := make([]string, 0, len(parties))
	for id := range parties {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		li, lj := at.at(ids[i]).n.Line, at.at(ids[j]).n.Line
		if li != lj {
			return li < lj
		}
		return ids[i] < ids[j]
	})
	return ids
}

func (o *Outcome) empty() bool {
	return o.Respond == nil && o.Delay == nil && o.Action == nil && o.Chip == nil
}

// fieldSet is a response field a scenario sets, and where.
type fieldSet struct {
	id    int
	value string
	line  int
	label string
}

func (o *Outcome) fieldSets(at locator, label string) []fieldSet {
	if o.Respond == nil {
		return nil
	}
	var out []fieldSet
	for id, v := range o.Respond.Set {
		out = append(out, fieldSet{id, v, at.at("respond", "set", itoa(id)).n.Line, label})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// CheckFields checks every value the scenario sets in a response field with
// check (whether the wire dialect can carry it there), and says where each
// it refuses is, one a line (errors.Join): a scenario is refused when it is
// loaded, not when a response it shapes cannot be built.
func (c *Compiled) CheckFields(check func(id int, value string) error) error {
	var found problems
	for _, f := range c.sets {
		if err := check(f.id, f.value); err != nil {
			found.add(&lineError{line: f.line, msg: fmt.Sprintf("%s: set: field %d: %v", f.label, f.id, oneLine(err))})
		}
	}
	if len(found) == 0 {
		return nil
	}
	return found.in(c.source)
}

func (o *Outcome) check(at locator, label string, found *problems) {
	if o.Chip != nil {
		o.Chip.check(at.at("chip"), label, found)
	}
	r := o.Respond
	if r == nil {
		return
	}
	here := at.at("respond")
	if r.RC != "" && !validRC(r.RC) {
		found.add(here.at("rc").errorf("%s: rc %q: want two digits or letters", label, r.RC))
	}
	if r.Requirement < 0 || r.Requirement > 7 {
		found.add(here.at("requirement").errorf("%s: requirement %d: want 0 to 7", label, r.Requirement))
	}
	for _, id := range sortedKeys(r.Set) {
		if id < 2 || id > 128 || id == 39 {
			found.add(here.at("set", itoa(id)).errorf("%s: set: field %d cannot be set (2 to 128; F39 is rc)", label, id))
		}
	}
	for i, id := range r.Unset {
		if id < 2 || id > 128 {
			found.add(here.at("unset", i).errorf("%s: unset: field %d: want 2 to 128", label, id))
		}
	}
	if a := o.Action; a != nil && !delivers(a) {
		found.add(at.at("action").errorf("%s: respond with action %s: the answer is never sent", label, a.Name))
	}
}

func sortedKeys(m map[int]string) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// delivers reports whether an action puts the answer on the wire at all.
func delivers(a *Action) bool { return a.Spec == nil || a.Spec.Delivers() }

func oneLine(err error) string {
	s := err.Error()
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
