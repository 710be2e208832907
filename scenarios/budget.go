package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Budget bounds what a scenario's match expressions may cost. Its load-time
// part (Nodes, Literal, Cost) refuses an expression whose shape alone makes
// it expensive, with the file and line, when the scenario is loaded; its
// run-time part (Memory, Steps, Time) cuts one evaluation that goes beyond
// it, and the rule then does not match. Every expression of a scenario runs
// for every request it sees, and a global scenario sees every terminal's:
// what one evaluation may cost is what every exchange may be slowed by.
//
// A zero field takes its default (DefaultBudget); the zero Budget is the
// defaults.
type Budget struct {
	// Nodes is the most syntax-tree nodes one expression may have: each
	// literal, name, operator and call is a node.
	Nodes int
	// Literal is the most elements a collection the expression builds may
	// have (an array or map literal, a range such as 1..1000, the count of a
	// repeat()) and the most bytes of a string literal. A collection whose
	// size cannot be told before the request (split(field(48), ","), a range
	// to amount) is counted as this many elements by Cost.
	Literal int
	// Cost is the most an expression may cost by its shape, in the nodes it
	// evaluates: an iteration (any, all, none, one, filter, map, count, sum,
	// find, groupBy, sortBy, reduce, ...) costs the size of its collection
	// times the cost of its predicate, so that nested iterations multiply.
	Cost int
	// Memory is expr's memory budget for one evaluation: the elements of the
	// arrays, maps and ranges it builds and the bytes repeat() makes. Beyond
	// it the evaluation stops.
	Memory int
	// Steps is the most predicate runs (one an element an iteration visits)
	// one evaluation may take. Beyond it the evaluation stops.
	Steps int
	// Time is the longest one evaluation may take, measured once it has run
	// a few dozen steps: the backstop for the steps that cost more than
	// others. Beyond it the evaluation stops.
	Time time.Duration
}

// DefaultBudget is what a zero field of a Budget takes. Every built-in
// scenario costs a small fraction of it; an expression that uses all of it
// costs about a millisecond to evaluate (see BenchmarkWorstExpression).
var DefaultBudget = Budget{
	Nodes:   500,
	Literal: 1000,
	Cost:    20_000,
	Memory:  100_000,
	Steps:   20_000,
	Time:    5 * time.Millisecond,
}

// withDefaults fills b's zero fields from DefaultBudget.
func (b Budget) withDefaults() Budget {
	d := DefaultBudget
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&b.Nodes, d.Nodes)
	pick(&b.Literal, d.Literal)
	pick(&b.Cost, d.Cost)
	pick(&b.Memory, d.Memory)
	pick(&b.Steps, d.Steps)
	if b.Time <= 0 {
		b.Time = d.Time
	}
	return b
}

// CutReason is the part of a Budget an evaluation ran out of.
type CutReason string

// What an evaluation can run out of.
const (
	CutSteps  CutReason = "steps"
	CutMemory CutReason = "memory"
	CutTime   CutReason = "time"
)

// Cut says that a rule's match expression ran out of its budget on an
// exchange, and so did not match it. The journal is told once a rule: on the
// first exchange cut for it since the scenario was bound (or reset); later
// cuts are counted (Engine.Cuts).
type Cut struct {
	Rule   string    `json:"rule"`
	Budget CutReason `json:"budget"`
}

// RuleCuts is how often a rule's match expression has been cut since its
// scenario was bound (or reset).
type RuleCuts struct {
	Scenario string `json:"scenario"`
	// Terminal is the terminal ID of a terminal's own scenario, empty for the
	// global one.
	Terminal string `json:"terminal,omitempty"`
	Rule     string `json:"rule"`
	Count    int    `json:"count"`
}

// stepName is the function the step count is kept by: each predicate an
// expression iterates with calls it first (see meter). Expressions may not
// name it themselves.
const stepName = "__step"

// meter patches a compiled expression so that each predicate run counts a
// step: the predicate's body becomes "__step(); body", which is the body's
// value whatever its type.
type meter struct{}

func (meter) Visit(node *ast.Node) {
	p, ok := (*node).(*ast.PredicateNode)
	if !ok {
		return
	}
	if seq, ok := p.Node.(*ast.SequenceNode); ok && len(seq.Nodes) == 2 && isStep(seq.Nodes[0]) {
		return // already counted
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: stepName}}
	p.Node = &ast.SequenceNode{Nodes: []ast.Node{call, p.Node}}
}

func isStep(n ast.Node) bool {
	c, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	return ok && id.Value == stepName
}

// regexpCost is what compiling a pattern and matching a field with it
// costs, in nodes: about the time of a thousand comparisons.
const regexpCost = 1000

// iterating are the builtins that run a predicate over a collection.
var iterating = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"count": true, "sum": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// scanning are the builtins that walk their first argument, a collection,
// once.
var scanning = map[string]bool{
	"sum": true, "max": true, "min": true, "mean": true, "median": true, "join": true,
	"sort": true, "uniq": true, "reverse": true, "flatten": true, "concat": true,
	"keys": true, "values": true, "toPairs": true, "fromPairs": true, "toJSON": true,
}

// sizing are the builtins whose result is no larger than their first
// argument.
var sizing = map[string]bool{
	"filter": true, "map": true, "sortBy": true, "sort": true, "uniq": true, "reverse": true,
	"take": true, "keys": true, "values": true, "toPairs": true,
}

// coster works out, from an expression's syntax tree, what the load-time
// budget refuses: too many nodes, a literal collection too large, a shape
// that costs too much.
type coster struct {
	b     Budget
	nodes int
	err   error
	// lets are the sizes of the collections let bindings in scope hold
	// (-1: not a collection of known size), innermost last.
	lets []letSize
}

type letSize struct {
	name string
	size int
}

func (c *coster) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// checkCost refuses an expression whose shape is beyond the budget.
func checkCost(n ast.Node, b Budget) error {
	c := &coster{b: b}
	cost := c.cost(n)
	switch {
	case c.err != nil:
		return c.err
	case c.nodes > b.Nodes:
		return fmt.Errorf("the expression has %d nodes, more than the %d an expression may have", c.nodes, b.Nodes)
	case cost > b.Cost:
		return fmt.Errorf("the expression would evaluate about %d nodes a request, more than the %d it may (nested iterations multiply their sizes)", cost, b.Cost)
	}
	return nil
}

// mul multiplies two costs, saturating rather than overflowing.
func mul(a, b int) int {
	const most = 1 << 40
	if a == 0 || b == 0 {
		return 0
	}
	if a > most/b {
		return most
	}
	return a * b
}

// cost is what evaluating n costs, in nodes evaluated, with the iterations
// in it counted as their collections' sizes times their predicates' cost.
func (c *coster) cost(n ast.Node) int {
	c.nodes++
	switch n := n.(type) {
	case nil:
		return 0
	case *ast.IdentifierNode:
		if n.Value == stepName {
			c.fail("unknown name %s", stepName)
		}
		return 1
	case *ast.StringNode:
		if len(n.Value) > c.b.Literal {
			c.fail("a string literal of %d bytes, more than the %d a literal may have", len(n.Value), c.b.Literal)
		}
		return 1
	case *ast.ArrayNode:
		if len(n.Nodes) > c.b.Literal {
			c.fail("an array of %d elements, more than the %d a literal may have", len(n.Nodes), c.b.Literal)
		}
		sum := 1
		for _, e := range n.Nodes {
			sum += c.cost(e)
		}
		return sum
	case *ast.MapNode:
		if len(n.Pairs) > c.b.Literal {
			c.fail("a map of %d entries, more than the %d a literal may have", len(n.Pairs), c.b.Literal)
		}
		sum := 1
		for _, e := range n.Pairs {
			sum += c.cost(e)
		}
		return sum
	case *ast.BinaryNode:
		sum := 1 + c.cost(n.Left) + c.cost(n.Right)
		switch n.Operator {
		case "..":
			if size, ok := c.rangeSize(n); ok && size > c.b.Literal {
				c.fail("a range of %d elements, more than the %d a literal may have", size, c.b.Literal)
			}
		case "in", "not in":
			sum += c.size(n.Right)
		case "matches":
			// Matching reads the whole string; a pattern that is not a
			// literal is compiled each time, too.
			sum += regexpCost / 10
			if _, ok := n.Right.(*ast.StringNode); !ok {
				sum += regexpCost
			}
		}
		return sum
	case *ast.VariableDeclaratorNode:
		sum := 1 + c.cost(n.Value)
		c.lets = append(c.lets, letSize{n.Name, c.knownSize(n.Value)})
		sum += c.cost(n.Expr)
		c.lets = c.lets[:len(c.lets)-1]
		return sum
	case *ast.BuiltinNode:
		if n.Name == "repeat" && len(n.Arguments) == 2 {
			if times, ok := intLiteral(n.Arguments[1]); ok && times > c.b.Literal {
				c.fail("repeat() %d times, more than the %d a literal may have", times, c.b.Literal)
			}
		}
		sum := 1
		for _, a := range n.Arguments {
			if _, ok := a.(*ast.PredicateNode); !ok {
				sum += c.cost(a)
			}
		}
		if len(n.Arguments) == 0 {
			return sum
		}
		if iterating[n.Name] {
			size := c.size(n.Arguments[0])
			for _, a := range n.Arguments[1:] {
				if p, ok := a.(*ast.PredicateNode); ok {
					c.nodes++
					sum += mul(size, 1+c.cost(p.Node))
				}
			}
		} else if scanning[n.Name] {
			sum += c.size(n.Arguments[0])
		}
		return sum
	case *ast.PredicateNode:
		return 1 + c.cost(n.Node)
	}
	// Anything else costs itself and its parts.
	sum := 1
	for _, child := range children(n) {
		sum += c.cost(child)
	}
	return sum
}

// children are a node's parts, for the nodes cost has no rule of its own for.
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.ChainNode:
		return []ast.Node{n.Node}
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}
	case *ast.SliceNode:
		return []ast.Node{n.Node, n.From, n.To}
	case *ast.CallNode:
		return append([]ast.Node{n.Callee}, n.Arguments...)
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}
	}
	return nil
}

// size is how many elements the collection n has, or Literal when that
// cannot be told before the request.
func (c *coster) size(n ast.Node) int {
	if s := c.knownSize(n); s >= 0 {
		return s
	}
	return c.b.Literal
}

// knownSize is how many elements the collection n has, or -1 when that
// cannot be told before the request.
func (c *coster) knownSize(n ast.Node) int {
	switch n := n.(type) {
	case *ast.ArrayNode:
		return len(n.Nodes)
	case *ast.MapNode:
		return len(n.Pairs)
	case *ast.BinaryNode:
		if n.Operator == ".." {
			if s, ok := c.rangeSize(n); ok {
				return s
			}
		}
	case *ast.IdentifierNode:
		for i := len(c.lets) - 1; i >= 0; i-- {
			if c.lets[i].name == n.Value {
				return c.lets[i].size
			}
		}
	case *ast.BuiltinNode:
		if sizing[n.Name] && len(n.Arguments) > 0 {
			return c.knownSize(n.Arguments[0])
		}
		if n.Name == "concat" {
			sum := 0
			for _, a := range n.Arguments {
				s := c.knownSize(a)
				if s < 0 {
					return -1
				}
				sum += s
			}
			return sum
		}
	case *ast.SliceNode:
		// a[:90] has at most 90 elements, whatever a has.
		to, ok := intLiteral(n.To)
		from, okFrom := intLiteral(n.From)
		if n.From == nil {
			from, okFrom = 0, true
		}
		if ok && okFrom && from >= 0 && to >= from {
			if whole := c.knownSize(n.Node); whole >= 0 {
				return min(whole, to-from)
			}
			return to - from
		}
		return c.knownSize(n.Node)
	case *ast.ConditionalNode:
		a, b := c.knownSize(n.Exp1), c.knownSize(n.Exp2)
		if a < 0 || b < 0 {
			return -1
		}
		return max(a, b)
	case *ast.SequenceNode:
		if len(n.Nodes) > 0 {
			return c.knownSize(n.Nodes[len(n.Nodes)-1])
		}
	case *ast.VariableDeclaratorNode:
		c.lets = append(c.lets, letSize{n.Name, c.knownSize(n.Value)})
		defer func() { c.lets = c.lets[:len(c.lets)-1] }()
		return c.knownSize(n.Expr)
	}
	return -1
}

// rangeSize is the size of a range between integer literals.
func (c *coster) rangeSize(n *ast.BinaryNode) (int, bool) {
	lo, ok1 := intLiteral(n.Left)
	hi, ok2 := intLiteral(n.Right)
	if !ok1 || !ok2 {
		return 0, false
	}
	if hi < lo {
		return 0, true
	}
	if hi-lo >= 1<<40 || hi-lo < 0 { // saturate rather than overflow
		return 1 << 40, true
	}
	return hi - lo + 1, true
}

// intLiteral reads an integer literal, with its sign.
func intLiteral(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.UnaryNode:
		if v, ok := intLiteral(n.Node); ok && (n.Operator == "-" || n.Operator == "+") {
			if n.Operator == "-" {
				return -v, true
			}
			return v, true
		}
	}
	return 0, false
}

// evaluation is what deciding one request needs of its own: the request as
// the rules see it, expr's machine and the map it reads, and the step count.
// Evaluations are pooled, so that deciding allocates none, and each request
// has its own, so that no request waits for another's expressions.
type evaluation struct {
	env Env
	m   map[string]any // env as expr reads it, filled once a rule needs it
	vm  vm.VM
	// step is ev.tick, bound once: the function the meter's calls reach.
	step func() bool

	steps   int       // predicate runs left in this evaluation
	started time.Time // when the clock was first read, zero before
	budget  Budget
	cut     CutReason // what the last run ran out of, "" for nothing
}

var evaluations = sync.Pool{New: func() any {
	ev := &evaluation{m: make(map[string]any, len(envTypes)+1)}
	ev.step = ev.tick
	return ev
}}

// clockEvery is how many steps go between two readings of the clock.
const clockEvery = 32

// errBudget stops an evaluation that ran out of steps or time; cut says
// which.
var errBudget = errors.New("budget exceeded")

// tick counts one predicate run.
func (ev *evaluation) tick() bool {
	ev.steps--
	if ev.steps < 0 {
		ev.cut = CutSteps
		panic(errBudget)
	}
	if ev.steps%clockEvery == 0 {
		now := time.Now()
		if ev.started.IsZero() {
			ev.started = now
		} else if now.Sub(ev.started) > ev.budget.Time {
			ev.cut = CutTime
			panic(errBudget)
		}
	}
	return true
}

// run evaluates one rule's expression within the budget: whether it is
// true, and what it ran out of when it was cut.
func (ev *evaluation) run(prog *vm.Program) (bool, CutReason) {
	ev.steps, ev.started, ev.cut = ev.budget.Steps, time.Time{}, ""
	ev.vm.MemoryBudget = uint(ev.budget.Memory)
	out, err := ev.vm.Run(prog, ev.m)
	switch {
	case err == nil:
		return out == true, ""
	case ev.cut != "":
		return false, ev.cut
	case strings.Contains(err.Error(), "memory budget exceeded"):
		return false, CutMemory
	}
	return false, "" // an error of the expression's own: no match, as ever
}
