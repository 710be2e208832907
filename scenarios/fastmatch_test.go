package scenarios

import (
	"io/fs"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/txn"
)

// How an expression is run.
const (
	viaFast = iota // the fast path
	viaExpr        // expr's machine: no fast path
	refused        // neither: expr refuses it, so no rule can have it
)

// fastCases are match expressions, each with how it is run: every operator
// the fast path knows, its edge cases, and what it must leave to expr.
var fastCases = []struct {
	src string
	via int
}{
	// Each field, compared with a literal.
	{`mti == "0200"`, viaFast},
	{`txn == "sale"`, viaFast},
	{`proc == "000000"`, viaFast},
	{`currency == "156"`, viaFast},
	{`pan == "6222021234567890123"`, viaFast},
	{`bin == "622202"`, viaFast},
	{`tid == "T0000001"`, viaFast},
	{`mid == "898100012340001"`, viaFast},
	{`stan == "000123"`, viaFast},
	{`rrn == "612345678901"`, viaFast},
	{`batch == "000042"`, viaFast},
	{`entry_mode == "051"`, viaFast},
	{`amount == 1234`, viaFast},

	// Comparisons, a literal on either side.
	{`"sale" == txn`, viaFast},
	{`txn != "echo"`, viaFast},
	{`"echo" != txn`, viaFast},
	{`amount == 0`, viaFast},
	{`amount == -1`, viaFast},
	{`amount != -5`, viaFast},
	{`amount > 5000000`, viaFast},
	{`amount >= 100`, viaFast},
	{`amount < -100`, viaFast},
	{`amount <= 0`, viaFast},
	{`-100 <= amount`, viaFast},
	{`5 > amount`, viaFast},
	{`0 >= amount`, viaFast},
	{`-1 < amount`, viaFast},
	{`amount == 9223372036854775807`, viaFast},
	{`amount >= -9223372036854775807`, viaFast},
	{`amount < -9223372036854775807`, viaFast},
	{`amount == 0x10`, viaFast},
	{`amount == 1_000`, viaFast},
	{`amount == 0b101`, viaFast},
	{`amount == 0o17`, viaFast},
	{`amount == 007`, viaFast},
	{`amount == - -5`, viaFast},
	{`amount == -(-5)`, viaFast},
	{`amount == +5`, viaFast},
	{`amount == -(5)`, viaFast},
	{`tid < "T0000002"`, viaFast},
	{`"T" <= tid`, viaFast},
	{`pan > ""`, viaFast},
	{`pan >= "6"`, viaFast},
	{`"" < batch`, viaFast},
	{`"62" > bin`, viaFast},
	{`batch == ""`, viaFast},
	{`stan != ""`, viaFast},
	{`mti == "02"`, viaFast},
	{`mti == "0200 "`, viaFast},
	{`entry_mode == "é"`, viaFast},

	// Fields with fields, literals with literals.
	{`tid == mid`, viaFast},
	{`stan < rrn`, viaFast},
	{`bin == pan`, viaFast},
	{`pan startsWith bin`, viaFast},
	{`rrn contains stan`, viaFast},
	{`pan endsWith stan`, viaFast},
	{`"a" == "a"`, viaFast},
	{`"a" < "b"`, viaFast},
	{`1 < 2`, viaFast},
	{`2 <= -2`, viaFast},
	{`"ab" startsWith "a"`, viaFast},
	{`"ab" endsWith "a"`, viaFast},
	{`"ab" contains ""`, viaFast},

	// Chained comparisons.
	{`0 < amount < 100`, viaFast},
	{`"A" < tid <= "U"`, viaFast},
	{`-5 <= amount <= 5 == true`, viaFast},

	// in and not in.
	{`txn in ["sale", "refund"]`, viaFast},
	{`txn in []`, viaFast},
	{`amount in []`, viaFast},
	{`txn not in []`, viaFast},
	{`amount in [0, -1, 100, 1234]`, viaFast},
	{`amount not in [1, 2]`, viaFast},
	{`bin in ["622202", "622848"]`, viaFast},
	{`tid in ["T0000001"]`, viaFast},
	{`txn not in ["echo"]`, viaFast},
	{`not (txn in ["echo", "signoff"])`, viaFast},
	{`txn in ["sale", "sale"]`, viaFast},
	{`txn in ["sale", ""]`, viaFast},
	{`"sale" in ["sale"]`, viaFast},
	{`"x" in []`, viaFast},
	{`5 in [1, 5]`, viaFast},
	{`1 in [1, 5]`, viaFast},
	{`"a" in ["a", "b"]`, viaFast},
	{`"c" not in ["a", "b"]`, viaFast},
	{`-5 in [1, 5]`, viaFast},
	{`txn in ["signon", "signoff", "echo", "sale", "void", "refund", "balance", "preauth", "preauth_void", "completion"]`, viaFast},
	{`amount in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1234, -3, 0]`, viaFast},
	{`amount not in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1234, -3, 0]`, viaFast},

	// Logic.
	{`true`, viaFast},
	{`false`, viaFast},
	{`!true`, viaFast},
	{`not false`, viaFast},
	{`!!true`, viaFast},
	{`true && txn == "sale"`, viaFast},
	{`false || txn == "sale"`, viaFast},
	{`txn == "sale" && amount == 1234`, viaFast},
	{`txn == "sale" and amount > 1`, viaFast},
	{`txn == "sale" || txn == "void"`, viaFast},
	{`txn == "sale" or txn == "void"`, viaFast},
	{`txn == "sale" || txn == "void" && amount > 100`, viaFast},
	{`(txn == "sale" || txn == "void") && amount > 100`, viaFast},
	{`txn == "sale" and amount > 1 or not (pan startsWith "62")`, viaFast},
	{`not txn == "sale"`, refused}, // (not txn) == "sale"
	{`!(txn == "sale")`, viaFast},
	{`((txn == "sale") && ((amount > 5) || (amount < -5)))`, viaFast},
	{`(((((tid == "T0000001")))))`, viaFast},
	{`!(!(amount >= 0) || !(amount <= 100))`, viaFast},
	{`(txn == "sale") == (amount > 5)`, viaFast},
	{`(txn == "sale") != true`, viaFast},
	{`true == false`, viaFast},

	// String operators.
	{`pan startsWith "6222"`, viaFast},
	{`pan endsWith "123"`, viaFast},
	{`pan contains "0212"`, viaFast},
	{`pan startsWith ""`, viaFast},
	{`pan endsWith ""`, viaFast},
	{`pan contains ""`, viaFast},
	{`"6222021234567890123" startsWith pan`, viaFast},
	{`"T0000001x" contains tid`, viaFast},
	{`pan not startsWith "62"`, viaFast},
	{`tid not contains "T"`, viaFast},
	{`pan not endsWith "3"`, viaFast},
	{`pan matches "^62(22|28)"`, viaFast},
	{`tid matches ""`, viaFast},
	{`tid not matches "^T0+1$"`, viaFast},
	{`mti matches "0[24]00"`, viaFast},
	{`"0200" matches "^0200$"`, viaFast},
	{`entry_mode matches "(?i)^é"`, viaFast},

	// Everything else stays with expr.
	{`amount % 100 == 5`, viaExpr},
	{`amount + 1 > 5`, viaExpr},
	{`-amount < 5`, viaExpr},
	{`amount == 5.0`, viaExpr},
	{`amount > 1.5`, viaExpr},
	{`amount > 1e3`, viaExpr},
	{`between("23:00", "23:05")`, viaExpr},
	{`field(60) == "000002"`, viaExpr},
	{`now.Hour() == 12`, viaExpr},
	{`txn == "sale" && field(3) == ""`, viaExpr},
	{`txn == "sale" ? true : false`, viaExpr},
	{`len(pan) == 19`, viaExpr},
	{`upper(txn) == "SALE"`, viaExpr},
	{`txn == nil`, viaExpr},
	{`pan matches tid`, viaExpr},
	{`amount in 1..5`, viaExpr},
	{`txn in ["sale", 1]`, viaExpr},
	{`txn in [tid]`, viaExpr},
	{`let x = 5; amount == x`, viaExpr},
	{`$env.txn == "sale"`, viaExpr},
	{`txn[0:1] == "s"`, viaExpr},
	{`pan startsWith txn + "x"`, viaExpr},
	{`txn == 1`, refused},
	{`amount == "1"`, refused},
	{`amount in ["1"]`, refused},
	{`(txn ?? "") == "sale"`, viaExpr},
	{`(txn == "sale") && (1 == 1.0)`, viaExpr},
	{`if amount > 1 { true } else { false }`, viaExpr},
}

// compileBoth compiles src as the engine does, for expr's machine, and for
// the fast path. The program is nil when expr refuses src; fast is nil when
// there is no fast path. No literalChecker here: what it refuses, it refuses
// for both.
func compileBoth(src string) (*vm.Program, func(*Env) bool, error) {
	prog, err := expr.Compile(src, expr.Env(envTypes), expr.AsBool())
	if err != nil {
		return nil, nil, err
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return prog, nil, err
	}
	return prog, fastMatch(tree.Node), nil
}

// runVM is what expr's machine makes of prog for e: matched, or an error.
func runVM(prog *vm.Program, e *Env) (bool, error) {
	m := make(map[string]any, len(envTypes))
	e.fill(m)
	out, err := expr.Run(prog, m)
	return out == true, err
}

// literals collects the string and integer literals of expressions, for
// Envs that hit them, just miss them and miss them by far.
func literals(srcs []string) (strs []string, ints []int64) {
	seenS, seenI := map[string]bool{}, map[int64]bool{}
	addS := func(s string) {
		if !seenS[s] {
			seenS[s] = true
			strs = append(strs, s)
		}
	}
	addI := func(v int64) {
		if !seenI[v] {
			seenI[v] = true
			ints = append(ints, v)
		}
	}
	for _, s := range []string{"", "0", "6", "62", "T", "é", "0200", "sale", "echo"} {
		addS(s)
	}
	for _, v := range []int64{0, 1, -1, 5, 100, 1234, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1} {
		addI(v)
	}
	for _, src := range srcs {
		tree, err := parser.Parse(src)
		if err != nil {
			continue
		}
		ast.Walk(&tree.Node, visitFunc(func(n ast.Node) {
			switch n := n.(type) {
			case *ast.StringNode:
				s := n.Value
				addS(s)
				addS(s + "0")
				addS("x" + s)
				if s != "" {
					addS(s[:len(s)-1])
					addS(s[1:])
				}
			case *ast.IntegerNode:
				v := int64(n.Value)
				for _, w := range []int64{v, -v, v - 1, v + 1, 1 - v, -1 - v} {
					addI(w)
				}
			}
		}))
	}
	return strs, ints
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(*n) }

// baseEnv is a plausible sale.
func baseEnv() Env {
	return Env{
		MTI: "0200", Txn: "sale", Proc: "000000", Amount: 1234, Currency: "156",
		PAN: "6222021234567890123", BIN: "622202", TID: "T0000001", MID: "898100012340001",
		STAN: "000123", RRN: "612345678901", Batch: "000042", EntryMode: "051",
		Now: time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC),
	}
}

// stringFieldsOf gives a pointer to each string field of e.
func stringFieldsOf(e *Env) []*string {
	return []*string{&e.MTI, &e.Txn, &e.Proc, &e.Currency, &e.PAN, &e.BIN, &e.TID, &e.MID,
		&e.STAN, &e.RRN, &e.Batch, &e.EntryMode, &e.Chip, &e.CardSeq}
}

// testEnvs are the Envs every expression is tried on: the edges, then n
// drawn from the literals and at random.
func testEnvs(strs []string, ints []int64, n int) []Env {
	var envs []Env
	envs = append(envs, Env{}, baseEnv())
	for i := range len(stringFieldsOf(&Env{})) {
		e := baseEnv()
		*stringFieldsOf(&e)[i] = ""
		envs = append(envs, e)
	}
	for _, v := range ints {
		e := baseEnv()
		e.Amount = v
		envs = append(envs, e)
	}
	for _, s := range strs {
		e := baseEnv()
		for _, f := range stringFieldsOf(&e) {
			*f = s
		}
		envs = append(envs, e)
	}
	rng := rand.New(rand.NewPCG(8583, 1))
	const alphabet = "0123456789Tsaleé"
	for range n {
		e := baseEnv()
		for _, f := range stringFieldsOf(&e) {
			switch rng.IntN(4) {
			case 0, 1:
				*f = strs[rng.IntN(len(strs))]
			case 2:
				b := make([]rune, rng.IntN(8))
				for i := range b {
					b[i] = []rune(alphabet)[rng.IntN(len([]rune(alphabet)))]
				}
				*f = string(b)
			}
		}
		e.Contactless, e.Fallback = rng.IntN(2) == 0, rng.IntN(2) == 0
		if rng.IntN(3) == 0 {
			e.Amount = int64(rng.Uint64())
		} else {
			e.Amount = ints[rng.IntN(len(ints))]
		}
		envs = append(envs, e)
	}
	return envs
}

// fixtureMatches are the match expressions of the built-in scenarios.
func fixtureMatches(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no built-in scenarios: %v", err)
	}
	var out []string
	for _, name := range files {
		c := loadFixture(t, name)
		for _, r := range c.rules {
			if r.Match != "" {
				out = append(out, r.Match)
			}
		}
	}
	return out
}

func loadFixture(t *testing.T, name string) *Compiled {
	t.Helper()
	raw, err := fixtures.Scenarios.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(name, raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// agree runs an expression both ways on every Env and reports each Env on
// which the answers differ.
func agree(t *testing.T, src string, prog *vm.Program, fast func(*Env) bool, envs []Env) {
	t.Helper()
	bad := 0
	for i := range envs {
		e := &envs[i]
		want, err := runVM(prog, e)
		if err != nil {
			t.Errorf("%s: expr failed where the fast path answers: %v", src, err)
			return
		}
		if got := fast(e); got != want {
			if bad++; bad <= 3 {
				t.Errorf("%s: fast path %v, expr %v, for %+v", src, got, want, *e)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: and %d more", src, bad-3)
	}
}

func TestFastMatchAgreesWithExpr(t *testing.T) {
	var srcs []string
	for _, tt := range fastCases {
		srcs = append(srcs, tt.src)
	}
	fixtureSrcs := fixtureMatches(t)
	strs, ints := literals(append(srcs, fixtureSrcs...))
	envs := testEnvs(strs, ints, 1500)

	for _, tt := range fastCases {
		prog, fast, err := compileBoth(tt.src)
		if (err != nil) != (tt.via == refused) {
			t.Errorf("%s: error %v, want one %v", tt.src, err, tt.via == refused)
		}
		if err != nil {
			continue
		}
		if (fast != nil) != (tt.via == viaFast) {
			t.Errorf("%s: fast path %v, want %v", tt.src, fast != nil, tt.via == viaFast)
		}
		if fast != nil {
			agree(t, tt.src, prog, fast, envs)
		}
	}
}

// The built-in scenarios' rules, as compile wires them: a fast path for each
// rule without a call, a time or arithmetic, agreeing with expr's machine.
func TestFastMatchBuiltInScenarios(t *testing.T) {
	slow := regexp.MustCompile(`between\(|field\(|tag\(|\bnow\b|%`)
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no built-in scenarios: %v", err)
	}
	strs, ints := literals(fixtureMatches(t))
	envs := testEnvs(strs, ints, 300)
	fast, all := 0, 0
	for _, name := range files {
		for _, r := range loadFixture(t, name).rules {
			if r.Match == "" {
				continue
			}
			all++
			if want := !slow.MatchString(r.Match); (r.fast != nil) != want {
				t.Errorf("%s: %s: fast path %v, want %v", name, r.Match, r.fast != nil, want)
			}
			if r.fast != nil {
				fast++
				agree(t, name+": "+r.Match, r.match, r.fast, envs)
			}
		}
	}
	t.Logf("%d of the built-in scenarios' %d match expressions have a fast path", fast, all)
	if fast == 0 || fast == all {
		t.Errorf("%d of %d with a fast path: the test no longer tells them apart", fast, all)
	}
}

// Every string and int64 field of Env reaches the fast path under its expr
// name, read from the right field.
func TestFastFieldsAreEnvFields(t *testing.T) {
	var e Env
	v := reflect.ValueOf(&e).Elem()
	n := 0
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Tag.Get("expr")
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + name)
			n++
		case reflect.Int64:
			f.SetInt(int64(1000 + i))
			n++
		}
	}
	if len(stringFields)+len(intFields) != n {
		t.Errorf("the fast path reads %d fields, Env has %d strings and integers", len(stringFields)+len(intFields), n)
	}
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Tag.Get("expr")
		switch f.Kind() {
		case reflect.String:
			get, ok := stringFields[name]
			if !ok {
				t.Errorf("Env.%s (%q) has no fast path", v.Type().Field(i).Name, name)
			} else if got := get(&e); got != f.String() {
				t.Errorf("%s reads %q, want %q", name, got, f.String())
			}
		case reflect.Int64:
			get, ok := intFields[name]
			if !ok {
				t.Errorf("Env.%s (%q) has no fast path", v.Type().Field(i).Name, name)
			} else if got := get(&e); got != f.Int() {
				t.Errorf("%s reads %d, want %d", name, got, f.Int())
			}
		}
	}
}

// The engine takes the fast path where a rule has one and expr's machine
// where not, in one scenario, first match winning.
func TestEngineMixesFastAndMachineRules(t *testing.T) {
	c, err := Load("mixed.yaml", []byte(`name: mixed
rules:
  - name: fast-miss
    match: txn == "sale" && amount == 1
    respond: {rc: "05"}
  - name: machine
    match: field(3) == "000000" && amount % 2 == 0
    respond: {rc: "51"}
  - name: fast-hit
    match: pan startsWith "62"
    respond: {rc: "61"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true} {
		if got := c.rules[i].fast != nil; got != want {
			t.Errorf("rule %s: fast path %v, want %v", c.rules[i].label, got, want)
		}
	}
	e := NewEngine(approveAll{}, 1, time.UTC)
	e.SetGlobal(c)
	for _, tt := range []struct {
		amount int64
		rule   string
	}{{1, "fast-miss"}, {4, "machine"}, {3, "fast-hit"}, {2, "machine"}} {
		r := &txn.Request{Type: txn.Sale, MTI: "0200", Amount: tt.amount, TID: "T0000001", PAN: "6222021234567890123",
			Field: func(id int) string {
				if id == 3 {
					return "000000"
				}
				return ""
			}}
		if got := e.Plan(r, time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)).Trace.Rule; got != tt.rule {
			t.Errorf("amount %d: rule %q, want %q", tt.amount, got, tt.rule)
		}
	}
}

type approveAll struct{}

func (approveAll) Decide(*txn.Request, time.Time) txn.Decision { return txn.Decision{RC: txn.Approved} }
func (approveAll) Force(_ *txn.Request, _ time.Time, rc string, _ bool) txn.Decision {
	return txn.Decision{RC: rc}
}
func (approveAll) SignedOn(string, string) bool { return true }
func (approveAll) Repeated(*txn.Request) bool   { return false }

// FuzzFastMatch: for any expression expr accepts and the fast path takes,
// both give the same answer.
func FuzzFastMatch(f *testing.F) {
	seeds := []string{}
	for _, tt := range fastCases {
		seeds = append(seeds, tt.src)
	}
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		raw, err := fixtures.Scenarios.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		c, err := Load(name, raw)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range c.rules {
			if r.Match != "" {
				seeds = append(seeds, r.Match)
			}
		}
	}
	g := exprGen{rand.New(rand.NewPCG(8583, 3))}
	for range 50 {
		seeds = append(seeds, g.boolean(3))
	}
	for i, src := range seeds {
		switch i % 3 {
		case 0:
			f.Add(src, "sale", "0200", int64(1234))
		case 1:
			f.Add(src, "", "6222", int64(-1))
		default:
			f.Add(src, "T0000001", "T0000001", int64(math.MaxInt64))
		}
	}
	f.Fuzz(func(t *testing.T, src, a, b string, amount int64) {
		prog, fast, err := compileBoth(src)
		if err != nil || fast == nil {
			return
		}
		e := Env{
			MTI: b, Txn: a, Proc: b, Amount: amount, Currency: a, PAN: a + b, TID: b, MID: a,
			STAN: a, RRN: b, Batch: "", EntryMode: a + a,
		}
		e.BIN = e.PAN[:min(6, len(e.PAN))]
		want, err := runVM(prog, &e)
		if err != nil {
			t.Fatalf("%s: expr failed where the fast path answers: %v", src, err)
		}
		if got := fast(&e); got != want {
			t.Fatalf("%s: fast path %v, expr %v, for %+v", src, got, want, e)
		}
	})
}

// exprGen writes random expressions in the fast path's language, every
// operator and spelling of it, for TestFastMatchRandomExpressions.
type exprGen struct{ rng *rand.Rand }

func (g exprGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

func (g exprGen) str() string {
	if g.rng.IntN(2) == 0 {
		return g.pick("mti", "txn", "proc", "currency", "pan", "bin", "tid", "mid", "stan", "rrn", "batch", "entry_mode")
	}
	return g.pick(`""`, `"sale"`, `'sale'`, "`sa`", `"0200"`, `"02"`, `"6222"`, `"622202"`, `"T0000001"`,
		`"\u00e9"`, `"0"`, `"T"`, `"123"`)
}

func (g exprGen) int() string {
	if g.rng.IntN(2) == 0 {
		return "amount"
	}
	return g.pick("0", "1", "-1", "1234", "- 1234", "-(1234)", "--5", "+5", "1_000", "0x4d2", "0b1", "0o7",
		"9223372036854775807", "-9223372036854775807")
}

func (g exprGen) list(elem func() string) string {
	var parts []string
	for range g.rng.IntN(12) {
		parts = append(parts, elem())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (g exprGen) boolean(depth int) string {
	n := 8
	if depth > 0 {
		n = 12
	}
	switch g.rng.IntN(n) {
	case 0:
		return g.str() + " " + g.pick("==", "!=", "<", "<=", ">", ">=") + " " + g.str()
	case 1:
		return g.int() + " " + g.pick("==", "!=", "<", "<=", ">", ">=") + " " + g.int()
	case 2:
		return g.str() + " " + g.pick("in", "not in") + " " + g.list(func() string { return g.pick(`""`, `"sale"`, `"void"`, `"0200"`, `"T0000001"`, `"622202"`) })
	case 3:
		return g.int() + " " + g.pick("in", "not in") + " " + g.list(func() string { return g.pick("0", "-1", "5", "1234", "-1234") })
	case 4:
		return g.str() + " " + g.pick("", "not ") + g.pick("startsWith", "endsWith", "contains") + " " + g.str()
	case 5:
		return g.str() + " " + g.pick("", "not ") + "matches " + g.pick(`"^62"`, `"0$"`, `""`, `"(?i)T0+1"`, `"[0-9]{3}"`)
	case 6:
		return g.pick("true", "false")
	case 7:
		return g.int() + " < " + g.int() + " <= " + g.int()
	case 8:
		return g.pick("!", "not ") + "(" + g.boolean(depth-1) + ")"
	case 9:
		return "(" + g.boolean(depth-1) + ") " + g.pick("==", "!=") + " (" + g.boolean(depth-1) + ")"
	}
	return "(" + g.boolean(depth-1) + " " + g.pick("&&", "||", "and", "or") + " " + g.boolean(depth-1) + ")"
}

// Random expressions in the fast path's language: each gets a fast path,
// and it agrees with expr.
func TestFastMatchRandomExpressions(t *testing.T) {
	g := exprGen{rand.New(rand.NewPCG(8583, 2))}
	var srcs []string
	for range 3000 {
		srcs = append(srcs, g.boolean(4))
	}
	strs, ints := literals(srcs)
	envs := testEnvs(strs, ints, 100)
	for _, src := range srcs {
		prog, fast, err := compileBoth(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if fast == nil {
			t.Errorf("%s: no fast path", src)
			continue
		}
		agree(t, src, prog, fast, envs)
	}
}
