package scenarios

import (
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// The fast path. Most rules' match expressions are a few comparisons of a
// request's fields with literals, joined by and, or and not. Run by expr's
// machine, each costs about 100 ns: the request's fields boxed into a map,
// looked up by name, compared through interfaces. fastMatch turns such an
// expression, once expr has accepted it, into Go closures over Env itself,
// which give the same answer in a few nanoseconds. An expression with
// anything else in it (now, field(), between(), arithmetic, a ternary, a
// float) gets none, and its rule keeps expr's machine.
//
// The closures must answer exactly as expr does for every Env: the
// differential test and FuzzFastMatch hold them to it.

// stringFields and intFields read Env's scalar fields by their expression
// names.
var (
	stringFields = map[string]func(*Env) string{
		"mti":        func(e *Env) string { return e.MTI },
		"txn":        func(e *Env) string { return e.Txn },
		"proc":       func(e *Env) string { return e.Proc },
		"currency":   func(e *Env) string { return e.Currency },
		"pan":        func(e *Env) string { return e.PAN },
		"bin":        func(e *Env) string { return e.BIN },
		"tid":        func(e *Env) string { return e.TID },
		"mid":        func(e *Env) string { return e.MID },
		"stan":       func(e *Env) string { return e.STAN },
		"rrn":        func(e *Env) string { return e.RRN },
		"batch":      func(e *Env) string { return e.Batch },
		"entry_mode": func(e *Env) string { return e.EntryMode },
		"chip":       func(e *Env) string { return e.Chip },
		"card_seq":   func(e *Env) string { return e.CardSeq },
	}
	intFields = map[string]func(*Env) int64{
		"amount": func(e *Env) int64 { return e.Amount },
	}
	boolFields = map[string]func(*Env) bool{
		"contactless": func(e *Env) bool { return e.Contactless },
		"fallback":    func(e *Env) bool { return e.Fallback },
	}
)

// A term is an operand: a field of Env or a literal. Comparisons with a
// literal on either side, the common case, get closures of their own, which
// read one field and nothing else.
type term[T any] struct {
	get   func(*Env) T // nil for a literal
	value T            // the literal
}

func (t term[T]) eval(e *Env) T {
	if t.get == nil {
		return t.value
	}
	return t.get(e)
}

func stringTerm(n ast.Node) (term[string], bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if get, ok := stringFields[n.Value]; ok {
			return term[string]{get: get}, true
		}
	case *ast.StringNode:
		return term[string]{value: n.Value}, true
	}
	return term[string]{}, false
}

func intTerm(n ast.Node) (term[int64], bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if get, ok := intFields[n.Value]; ok {
			return term[int64]{get: get}, true
		}
	case *ast.IntegerNode:
		return term[int64]{value: int64(n.Value)}, true
	case *ast.UnaryNode:
		// -5 is the literal 5 negated; a literal is at most MaxInt, so
		// negating one never overflows. -amount is arithmetic: not here.
		if n.Operator != "-" && n.Operator != "+" {
			break
		}
		t, ok := intTerm(n.Node)
		if !ok || t.get != nil {
			break
		}
		if n.Operator == "-" {
			t.value = -t.value
		}
		return t, true
	}
	return term[int64]{}, false
}

// cmp is a comparison operator on one type.
type cmp[T string | int64] func(a, b T) bool

func cmpOf[T string | int64](op string) cmp[T] {
	switch op {
	case "==":
		return func(a, b T) bool { return a == b }
	case "!=":
		return func(a, b T) bool { return a != b }
	case "<":
		return func(a, b T) bool { return a < b }
	case "<=":
		return func(a, b T) bool { return a <= b }
	case ">":
		return func(a, b T) bool { return a > b }
	case ">=":
		return func(a, b T) bool { return a >= b }
	}
	return nil
}

// compare builds l op r. == and != with a literal, by far the commonest
// comparisons, are written out: a call fewer for each.
func compare[T string | int64](op string, l, r term[T]) func(*Env) bool {
	f := cmpOf[T](op)
	if f == nil {
		return nil
	}
	switch {
	case l.get == nil && r.get == nil:
		v := f(l.value, r.value)
		return func(*Env) bool { return v }
	case r.get == nil:
		get, v := l.get, r.value
		switch op {
		case "==":
			return func(e *Env) bool { return get(e) == v }
		case "!=":
			return func(e *Env) bool { return get(e) != v }
		}
		return func(e *Env) bool { return f(get(e), v) }
	case l.get == nil:
		get, v := r.get, l.value
		switch op {
		case "==":
			return func(e *Env) bool { return v == get(e) }
		case "!=":
			return func(e *Env) bool { return v != get(e) }
		}
		return func(e *Env) bool { return f(v, get(e)) }
	}
	lget, rget := l.get, r.get
	return func(e *Env) bool { return f(lget(e), rget(e)) }
}

// stringOp builds l startsWith, endsWith or contains r.
func stringOp(op string, l, r term[string]) func(*Env) bool {
	var f func(s, sub string) bool
	switch op {
	case "startsWith":
		f = strings.HasPrefix
	case "endsWith":
		f = strings.HasSuffix
	case "contains":
		f = strings.Contains
	default:
		return nil
	}
	if r.get == nil {
		v := r.value
		if l.get == nil {
			w := f(l.value, v)
			return func(*Env) bool { return w }
		}
		get := l.get
		return func(e *Env) bool { return f(get(e), v) }
	}
	return func(e *Env) bool { return f(l.eval(e), r.eval(e)) }
}

// in builds needle in [literals...]. expr compares each element with == (for
// ints by value, whatever their Go type), which is what a set gives.
func in[T string | int64](needle term[T], list []T) func(*Env) bool {
	switch {
	case len(list) == 0:
		return func(*Env) bool { return false }
	case needle.get == nil:
		found := false
		for _, v := range list {
			found = found || v == needle.value
		}
		return func(*Env) bool { return found }
	case len(list) == 1:
		get, v := needle.get, list[0]
		return func(e *Env) bool { return get(e) == v }
	case len(list) <= 8:
		get := needle.get
		return func(e *Env) bool {
			x := get(e)
			for _, v := range list {
				if x == v {
					return true
				}
			}
			return false
		}
	}
	set := make(map[T]bool, len(list))
	for _, v := range list {
		set[v] = true
	}
	get := needle.get
	return func(e *Env) bool { return set[get(e)] }
}

// inArray builds left in right when right is an array of literals of left's
// type.
func inArray(left, right ast.Node) func(*Env) bool {
	arr, ok := right.(*ast.ArrayNode)
	if !ok {
		return nil
	}
	if needle, ok := stringTerm(left); ok {
		list := make([]string, 0, len(arr.Nodes))
		for _, n := range arr.Nodes {
			t, ok := stringTerm(n)
			if !ok || t.get != nil {
				return nil
			}
			list = append(list, t.value)
		}
		return in(needle, list)
	}
	if needle, ok := intTerm(left); ok {
		list := make([]int64, 0, len(arr.Nodes))
		for _, n := range arr.Nodes {
			t, ok := intTerm(n)
			if !ok || t.get != nil {
				return nil
			}
			list = append(list, t.value)
		}
		return in(needle, list)
	}
	return nil
}

// fastMatch returns a function that gives what the checked expression n
// gives for an Env, or nil when n has something it does not know.
func fastMatch(n ast.Node) func(*Env) bool {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*Env) bool { return v }

	case *ast.IdentifierNode:
		return boolFields[n.Value] // nil for a name that is not a bool

	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil
		}
		f := fastMatch(n.Node)
		if f == nil {
			return nil
		}
		return func(e *Env) bool { return !f(e) }

	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			l, r := fastMatch(n.Left), fastMatch(n.Right)
			if l == nil || r == nil {
				return nil
			}
			if n.Operator == "&&" || n.Operator == "and" {
				return func(e *Env) bool { return l(e) && r(e) }
			}
			return func(e *Env) bool { return l(e) || r(e) }

		case "==", "!=", "<", "<=", ">", ">=":
			if l, ok := stringTerm(n.Left); ok {
				if r, ok := stringTerm(n.Right); ok {
					return compare(n.Operator, l, r)
				}
				return nil
			}
			if l, ok := intTerm(n.Left); ok {
				if r, ok := intTerm(n.Right); ok {
					return compare(n.Operator, l, r)
				}
				return nil
			}
			if n.Operator == "==" || n.Operator == "!=" {
				// Two conditions compared: (txn == "sale") != (amount > 5).
				l, r := fastMatch(n.Left), fastMatch(n.Right)
				if l == nil || r == nil {
					return nil
				}
				if n.Operator == "==" {
					return func(e *Env) bool { return l(e) == r(e) }
				}
				return func(e *Env) bool { return l(e) != r(e) }
			}

		case "in":
			return inArray(n.Left, n.Right)

		case "startsWith", "endsWith", "contains":
			l, ok1 := stringTerm(n.Left)
			r, ok2 := stringTerm(n.Right)
			if ok1 && ok2 {
				return stringOp(n.Operator, l, r)
			}

		case "matches":
			// expr compiles a literal pattern once, with regexp.Compile;
			// a pattern from a field is compiled per run: not here.
			l, ok := stringTerm(n.Left)
			pat, isLit := n.Right.(*ast.StringNode)
			if !ok || !isLit {
				return nil
			}
			re, err := regexp.Compile(pat.Value)
			if err != nil {
				return nil
			}
			if l.get == nil {
				v := re.MatchString(l.value)
				return func(*Env) bool { return v }
			}
			get := l.get
			return func(e *Env) bool { return re.MatchString(get(e)) }
		}
	}
	return nil
}
