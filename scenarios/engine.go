package scenarios

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/txn"
)

// Decider is the default host behaviour a scenario falls back on and
// overrides: books.Host.
type Decider interface {
	Decide(r *txn.Request, now time.Time) txn.Decision
	Force(r *txn.Request, now time.Time, rc string, outOfBalance bool) txn.Decision
	SignedOn(mid, tid string) bool
	// Repeated reports an identical retransmission of a request already
	// answered: it gets its first answer, whatever the limits say now.
	Repeated(r *txn.Request) bool
}

// Plan is everything the host does with one request: the answer, changes to
// its fields, how long it waits, how it reaches the wire, and which scenario
// rule said so.
type Plan struct {
	Decision txn.Decision
	// Set and Unset change response fields after the dialect has built them.
	Set   map[int]string
	Unset []int
	// Delay holds the response back.
	Delay time.Duration
	// Fault delivers the response its own way; nil writes it whole.
	Fault fault.Fault
	// Chip is what the answer's chip data carries beyond the issuer's own
	// answer to the card's cryptogram.
	Chip ChipPlan
	// Trace says who decided, for the journal.
	Trace Trace
	// Acts are what the scenario did, one by one, in order: what
	// Trace.Action says in words. Empty when Trace.Action is.
	Acts []Act
	// Cuts are the rules whose match expression ran out of its budget on
	// this exchange for the first time since the scenario was bound (and so
	// did not match); Trace.Action says so too. Later cuts of a rule are
	// only counted (Engine.Cuts).
	Cuts []Cut
	// Terminal is the terminal ID whose own scenario decided (Bind), empty
	// when the global one or the default host behaviour did: what a fault
	// does beyond this exchange (refuse) is confined to that terminal.
	Terminal string
}

// Trace names the scenario, rule and step that decided an exchange, and the
// action taken. Empty when the default host behaviour answered.
type Trace struct {
	Scenario string `json:"scenario,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Step     int    `json:"step,omitempty"`
	Action   string `json:"action,omitempty"`
}

// ActKind says what a scenario did to an exchange. The kinds are the label
// values of the metrics' acqsim_faults_total, but for ActFault (counted by
// the fault's name), ActBooksFault (counted as "books-fault:<name>") and
// ActCut (counted as "other").
type ActKind string

// The kinds of act.
const (
	// ActRespond is a scripted response, or the response code a limit
	// gave when no rule matched; Value says what the response is ("rc=51
	// out-of-balance requirement=3 fields", each part only if scripted).
	ActRespond ActKind = "respond"
	// ActDelay holds the response back; Value is the delay ("45s").
	ActDelay ActKind = "delay"
	// ActFault delivers the response its own way; Name is the wire
	// fault's registered name (no-response, close, duplicate, ...).
	ActFault ActKind = "fault"
	// ActBooksFault is a books fault of the merchant's settlement; Name is
	// the fault (fee-no-cap, holiday-ignored, ...).
	ActBooksFault ActKind = "books-fault"
	// ActLimit and ActT0Limit refuse what a matching rule let through:
	// Name is the limit ("limit 2", "T0 daily quota used up") and Value
	// the response code.
	ActLimit   ActKind = "limit"
	ActT0Limit ActKind = "t0-limit"
	// ActTerminalStatus and ActMerchantStatus refuse a request by the
	// party's registry status, which Name is ("frozen").
	ActTerminalStatus ActKind = "terminal-status"
	ActMerchantStatus ActKind = "merchant-status"
	// ActSignOnRequired refuses a terminal that has not signed on.
	ActSignOnRequired ActKind = "sign-on-required"
	// ActCut is a rule's match expression cut short by its budget: Name is
	// the rule, Value the budget (CutReason).
	ActCut ActKind = "cut"
)

// Act is one thing a scenario did to an exchange.
type Act struct {
	Kind ActKind `json:"kind"`
	// Name is the fault, books fault, limit, status or rule the act is
	// about, by kind.
	Name string `json:"name,omitempty"`
	// Value is the act's detail, by kind: a response, a delay, a response
	// code, a budget.
	Value string `json:"value,omitempty"`
}

// actionText writes acts as Trace.Action says them: "books fault:
// fee-no-cap, fee-rounding, respond rc=51, delay 45s, no-response". It is
// what the journal and the logs have always shown, so its wording stays.
func actionText(acts []Act) string {
	var b strings.Builder
	for i, a := range acts {
		if i > 0 {
			b.WriteString(", ")
		}
		switch a.Kind {
		case ActRespond:
			b.WriteString("respond")
			if a.Value != "" {
				b.WriteString(" " + a.Value)
			}
		case ActDelay:
			b.WriteString("delay " + a.Value)
		case ActBooksFault:
			// A run of books faults shares one "books fault:".
			if i == 0 || acts[i-1].Kind != ActBooksFault {
				b.WriteString("books fault: ")
			}
			b.WriteString(a.Name)
		case ActLimit, ActT0Limit:
			b.WriteString(a.Name + ": respond rc=" + a.Value)
		case ActTerminalStatus:
			b.WriteString("terminal " + a.Name)
		case ActMerchantStatus:
			b.WriteString("merchant " + a.Name)
		case ActSignOnRequired:
			b.WriteString("sign-on required")
		case ActCut:
			b.WriteString(a.Name + ": match over its " + a.Value + " budget")
		case ActChip:
			b.WriteString(a.Name)
			if a.Name == "script" {
				b.WriteString(" " + a.Value)
			}
		default: // ActFault
			b.WriteString(a.Name)
		}
	}
	return b.String()
}

// record is what the engine notes of a plan while it decides: who decided,
// and what was done so far.
type record struct {
	trace Trace
	acts  []Act
}

func (rec *record) add(a Act) { rec.acts = append(rec.acts, a) }

// into gives p the trace and acts, Action written from the acts.
func (rec *record) into(p *Plan) {
	p.Trace, p.Acts = rec.trace, rec.acts
	p.Trace.Action = actionText(rec.acts)
}

// Engine decides each request from the scenario bound to its terminal, or the
// global one, falling back on the default host behaviour. It is safe for
// concurrent use.
type Engine struct {
	// Calendar is the host's settlement calendar, for merchants' settlement
	// dates when a scenario has none of its own.
	Calendar books.Calendar
	// Budget bounds each evaluation of a match expression (its Memory, Steps
	// and Time; zero fields take the defaults). It applies to scenarios
	// bound after it is set: set it before the engine decides.
	Budget Budget

	host Decider
	seed uint64
	loc  *time.Location

	mu       sync.RWMutex
	global   *binding
	terminal map[string]*binding // by terminal ID
}

// NewEngine returns an engine over the default host behaviour. seed drives
// every random draw; loc is the time zone of time windows and limit periods
// (nil: local time).
func NewEngine(host Decider, seed uint64, loc *time.Location) *Engine {
	if loc == nil {
		loc = time.Local
	}
	return &Engine{
		host: host, seed: seed, loc: loc, terminal: map[string]*binding{},
		Calendar: books.Calendar{CutOver: books.DefaultCutOver, Location: loc},
	}
}

// SetGlobal makes sc the scenario of every terminal without one of its own;
// nil restores the default host behaviour. Its counters start afresh.
func (e *Engine) SetGlobal(sc *Compiled) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.global = e.bind(sc)
}

// Bind gives one terminal its own scenario (nil: the default host behaviour,
// whatever the global one). Its counters start afresh.
func (e *Engine) Bind(tid string, sc *Compiled) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.bind(sc)
	if b == nil {
		b = &binding{} // an explicit "no scenario" for this terminal
	}
	e.terminal[tid] = b
}

// Unbind returns a terminal to the global scenario.
func (e *Engine) Unbind(tid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.terminal, tid)
}

// Bindings reports the global scenario's name ("" for none) and each
// terminal's own.
func (e *Engine) Bindings() (global string, terminals map[string]string) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	terminals = map[string]string{}
	for tid, b := range e.terminal {
		terminals[tid] = b.name()
	}
	return e.global.name(), terminals
}

// Reset starts every scenario's counters and limits afresh; with a terminal
// ID, only what is counted for that terminal.
func (e *Engine) Reset(tid string) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, b := range append([]*binding{e.global}, values(e.terminal)...) {
		b.reset(tid)
	}
}

func values(m map[string]*binding) []*binding {
	out := make([]*binding, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	return out
}

func (e *Engine) bind(sc *Compiled) *binding {
	if sc == nil {
		return nil
	}
	b := &binding{sc: sc, engine: e, budget: e.Budget.withDefaults()}
	b.reset("")
	return b
}

// bindingFor is the scenario in force for a terminal, and whether it is the
// terminal's own.
func (e *Engine) bindingFor(tid string) (b *binding, own bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if b, ok := e.terminal[tid]; ok {
		return b, true
	}
	return e.global, false
}

// Plan decides one request.
func (e *Engine) Plan(r *txn.Request, now time.Time) Plan {
	b, own := e.bindingFor(r.TID)
	if b == nil || b.sc == nil {
		if rc, act := chipRefusal(r, nil, DefaultARQCFailedRC); rc != "" && !e.host.Repeated(r) {
			var rec record
			rec.add(act)
			p := Plan{Decision: e.host.Force(r, now, rc, false)}
			p.Decision.Note = chipNote(r, rc)
			rec.into(&p)
			return p
		}
		return Plan{Decision: e.host.Decide(r, now)}
	}
	p := b.plan(r, now)
	if own {
		p.Terminal = r.TID
	}
	return p
}

// binding is a scenario in force, with its counters.
//
// Its rules' expressions are evaluated outside mu, each request with an
// evaluation of its own: one request's expensive expression holds up no
// other's. mu is held only to count (counters, steps, limits, the draws of
// the terminals' random numbers) and to decide from the counts, so that
// what a rule does with a match is decided as one step.
type binding struct {
	sc     *Compiled
	engine *Engine
	budget Budget // the run-time budget of each evaluation

	mu     sync.Mutex
	counts map[countKey]int
	usage  map[usageKey]*usage
	rngs   map[string]*rand.Rand // per terminal, so each terminal's run repeats
	cuts   map[int]int           // by rule: how often its expression was cut
}

type countKey struct {
	rule int
	who  string
}

type usageKey struct {
	limit  int
	who    string
	bucket string
}

type usage struct {
	count  int
	amount int64
}

func (b *binding) name() string {
	if b == nil || b.sc == nil {
		return ""
	}
	return b.sc.Name
}

func (b *binding) reset(tid string) {
	if b == nil || b.sc == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if tid == "" {
		b.counts = map[countKey]int{}
		b.usage = map[usageKey]*usage{}
		b.rngs = map[string]*rand.Rand{}
		b.cuts = map[int]int{}
		return
	}
	for k := range b.counts {
		if k.who == "terminal:"+tid {
			delete(b.counts, k)
		}
	}
	for k := range b.usage {
		if k.who == "terminal:"+tid {
			delete(b.usage, k)
		}
	}
	delete(b.rngs, tid)
}

func (b *binding) rng(tid string) *rand.Rand {
	r := b.rngs[tid]
	if r == nil {
		h := fnv.New64a()
		h.Write([]byte(tid))
		r = rand.New(rand.NewPCG(b.engine.seed, h.Sum64()))
		b.rngs[tid] = r
	}
	return r
}

// who is the counter key a rule or limit counts by.
func who(per string, r *txn.Request) string {
	switch per {
	case "card":
		return "card:" + r.PAN
	case "merchant":
		return "merchant:" + r.MID
	case "global":
		return "global"
	}
	return "terminal:" + r.TID
}

func (b *binding) plan(r *txn.Request, now time.Time) Plan {
	e := b.engine
	rec := record{trace: Trace{Scenario: b.sc.Name}}

	// The statuses and the sign-on rule read the scenario and the host, not
	// the binding's counts.
	if rc, act := b.registry(r); rc != "" {
		rec.add(act)
		p := Plan{Decision: e.host.Force(r, now, rc, false)}
		rec.into(&p)
		return p
	}
	if b.sc.SignOnRequired && needsSignOn(r.Type) && !e.host.SignedOn(r.MID, r.TID) {
		rec.add(Act{Kind: ActSignOnRequired})
		p := Plan{Decision: txn.Decision{RC: "97", Requirement: 3, Note: "not signed on"}}
		rec.into(&p)
		return p
	}

	// The request as the rules see it, once a rule passes the txn prefilter.
	var ev *evaluation
	defer func() { // what the rules read is for this plan only
		if ev != nil {
			ev.env = Env{}
			clear(ev.m)
			evaluations.Put(ev)
		}
	}()
	var env *Env
	var cuts []Cut
	filled := false // the map for expressions, once a rule needs it
	// The txn prefilter is a bit test; a type without a bit has the map.
	name := string(r.Type)
	bit, named := txnBit[name]
	for i := range b.sc.rules {
		rule := &b.sc.rules[i]
		if rule.txns != nil && (named && rule.txnBits&bit == 0 || !named && !rule.txns[name]) {
			continue
		}
		if ev == nil {
			ev = evaluations.Get().(*evaluation)
			ev.env, ev.budget = b.env(r, now), b.budget
			env = &ev.env
		}
		if rule.fast != nil {
			if !rule.fast(env) {
				continue
			}
		} else if rule.match != nil {
			if !filled {
				env.fill(ev.m)
				ev.m[stepName] = ev.step
				filled = true
			}
			ok, cut := ev.run(rule.match)
			if cut != "" {
				cuts = b.cut(i, cut, &rec, cuts)
			}
			if !ok {
				continue
			}
		}
		if p, ok := b.try(i, r, now, rec); ok {
			p.Cuts = cuts
			return p
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if rc, act := chipRefusal(r, nil, b.sc.chipRC()); rc != "" && !e.host.Repeated(r) {
		rec.add(act)
		p := Plan{Decision: e.host.Force(r, now, rc, false), Cuts: cuts}
		p.Decision.Note = chipNote(r, rc)
		rec.into(&p)
		return p
	}
	t0rc, t0why := b.booksTerms(r, now, &rec)
	if rc, which := b.refusal(r, now, t0rc, t0why); rc != "" && !e.host.Repeated(r) {
		// The limit is the rule that decided; what it did is a response.
		rec.trace.Rule = which
		rec.add(Act{Kind: ActRespond, Value: "rc=" + rc})
		p := Plan{Decision: e.host.Force(r, now, rc, false), Cuts: cuts}
		rec.into(&p)
		return p
	}
	p := Plan{Decision: e.host.Decide(r, now), Cuts: cuts}
	b.account(r, now, p.Decision)
	if len(b.sc.limits) > 0 || len(rec.acts) > 0 {
		rec.into(&p)
	} // else the default answer, unchanged, with no trace
	return p
}

// try applies rule i, whose expression matched r, if its probability, every
// and steps let it: the plan, or false for the next rule.
func (b *binding) try(i int, r *txn.Request, now time.Time, rec record) (Plan, bool) {
	rule := &b.sc.rules[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	rng := b.rng(r.TID)
	if p := rule.Probability; p != nil && rng.Float64() >= *p {
		return Plan{}, false
	}
	key := countKey{i, who(rule.Per, r)}
	b.counts[key]++
	n := b.counts[key]
	if rule.Every > 1 && n%rule.Every != 0 {
		return Plan{}, false
	}
	if rule.Every > 1 {
		n /= rule.Every
	}
	outcome, step, ok := rule.outcomeFor(n)
	if !ok {
		return Plan{}, false // every step used up: the rule no longer applies
	}
	t0rc, t0why := b.booksTerms(r, now, &rec)
	rec.trace.Rule, rec.trace.Step = rule.label, step
	return b.apply(r, now, outcome, rng, rec, t0rc, t0why), true
}

// booksTerms sets how r settles, under mu (T0 quotas are counts), and says
// so in the trace: the T0 refusal, if there is one.
func (b *binding) booksTerms(r *txn.Request, now time.Time, rec *record) (t0rc, t0why string) {
	terms, t0rc, t0why := b.terms(r, now)
	r.Terms = terms
	if terms != nil {
		for _, f := range terms.Faults {
			rec.add(Act{Kind: ActBooksFault, Name: f})
		}
	}
	return t0rc, t0why
}

// cut counts a cut of rule i's expression; the first is added to cuts and
// said in the trace.
func (b *binding) cut(i int, why CutReason, rec *record, cuts []Cut) []Cut {
	b.mu.Lock()
	b.cuts[i]++
	first := b.cuts[i] == 1
	b.mu.Unlock()
	if first {
		label := b.sc.rules[i].label
		cuts = append(cuts, Cut{Rule: label, Budget: why})
		rec.add(Act{Kind: ActCut, Name: label, Value: string(why)})
	}
	return cuts
}

// Cuts reports, for each rule whose match expression has been cut since its
// scenario was bound (or reset), how often.
func (e *Engine) Cuts() []RuleCuts {
	e.mu.RLock()
	bound := map[string]*binding{"": e.global}
	for tid, b := range e.terminal {
		bound[tid] = b
	}
	e.mu.RUnlock()
	var out []RuleCuts
	for tid, b := range bound {
		if b == nil || b.sc == nil {
			continue
		}
		b.mu.Lock()
		for i, n := range b.cuts {
			out = append(out, RuleCuts{Scenario: b.sc.Name, Terminal: tid, Rule: b.sc.rules[i].label, Count: n})
		}
		b.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Terminal != out[j].Terminal {
			return out[i].Terminal < out[j].Terminal
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// closesBooks lists requests that move a batch towards closing.
func closesBooks(t txn.Type) bool { return txn.Of(t).ClosesBooks }

// refusal is what stops a normal approval: a T0 limit, then a risk limit.
func (b *binding) refusal(r *txn.Request, now time.Time, t0rc, t0why string) (rc, which string) {
	if t0rc != "" {
		return t0rc, t0why
	}
	return b.overLimit(r, now)
}

// outcomeFor returns the outcome for the nth request the rule applies to, and
// the 1-based step it comes from (0 for a rule without steps).
func (r *compiledRule) outcomeFor(n int) (Outcome, int, bool) {
	if len(r.Steps) == 0 {
		return r.Outcome, 0, true
	}
	for j, s := range r.Steps {
		if s.Times == 0 || n <= s.Times {
			return s.Outcome, j + 1, true
		}
		n -= s.Times
	}
	return Outcome{}, 0, false
}

// apply turns an outcome into a plan.
func (b *binding) apply(r *txn.Request, now time.Time, o Outcome, rng *rand.Rand, rec record, t0rc, t0why string) Plan {
	var p Plan
	rs := o.Respond
	scripted := rs != nil && (rs.RC != "" && rs.RC != txn.Approved || rs.OutOfBalance)
	chipRC, chipAct := chipRefusal(r, o.Chip, b.sc.chipRC())
	switch rc, which := b.refusal(r, now, t0rc, t0why); {
	case o.Action != nil && !delivers(o.Action) && closesBooks(r.Type):
		// A settlement whose answer never leaves was lost on its way in: the
		// batch stays as it was, for the terminal to try again.
		p.Decision = txn.Decision{Note: "not processed: lost before the host saw it"}
	case scripted:
		p.Decision = b.engine.host.Force(r, now, rs.RC, rs.OutOfBalance)
		rec.add(Act{Kind: ActRespond, Value: rs.describe()})
	case chipRC != "" && !b.engine.host.Repeated(r):
		// The issuer refuses the card's cryptogram before any limit counts.
		p.Decision = b.engine.host.Force(r, now, chipRC, false)
		p.Decision.Note = chipNote(r, chipRC)
		rec.add(chipAct)
	case rc != "" && !b.engine.host.Repeated(r):
		// The rule lets the normal answer through, and the normal answer
		// respects the limits.
		p.Decision = b.engine.host.Force(r, now, rc, false)
		kind := ActLimit
		if t0rc != "" { // refusal takes a T0 limit first
			kind = ActT0Limit
		}
		rec.add(Act{Kind: kind, Name: which, Value: rc})
	default:
		p.Decision = b.engine.host.Decide(r, now)
		if rs != nil {
			rec.add(Act{Kind: ActRespond, Value: rs.describe()})
		}
	}
	if rs != nil {
		if rs.Requirement != 0 {
			p.Decision.Requirement = byte(rs.Requirement)
		}
		p.Set, p.Unset = rs.Set, rs.Unset
	}
	b.account(r, now, p.Decision)
	p.Chip = o.Chip.plan(r, &rec)
	if o.Delay != nil {
		p.Delay = o.Delay.draw(rng)
		rec.add(Act{Kind: ActDelay, Value: seconds(p.Delay)})
	}
	if o.Action != nil {
		p.Fault = o.Action.Spec.New(rng)
		rec.add(Act{Kind: ActFault, Name: o.Action.Name})
	}
	rec.into(&p)
	return p
}

// seconds writes a delay as a scenario file would: 65s, not 1m5s.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// describe says what a scripted response is: "rc=51 out-of-balance
// requirement=3 fields", each part only if scripted.
func (rs *Respond) describe() string {
	var parts []string
	if rs.RC != "" {
		parts = append(parts, "rc="+rs.RC)
	}
	if rs.OutOfBalance {
		parts = append(parts, "out-of-balance")
	}
	if rs.Requirement != 0 {
		parts = append(parts, fmt.Sprintf("requirement=%d", rs.Requirement))
	}
	if len(rs.Set) > 0 || len(rs.Unset) > 0 {
		parts = append(parts, "fields")
	}
	return strings.Join(parts, " ")
}

func (d *Delay) draw(rng *rand.Rand) time.Duration {
	var v float64
	switch d.Distribution {
	case "uniform":
		v = float64(d.Min) + rng.Float64()*float64(d.Max-d.Min)
	case "normal":
		v = float64(d.Mean) + rng.NormFloat64()*float64(d.StdDev)
	case "exponential":
		v = rng.ExpFloat64() * float64(d.Mean)
	default:
		return d.Min
	}
	if d.Max > 0 && d.Distribution != "uniform" {
		v = math.Min(v, float64(d.Max))
	}
	return max(time.Duration(v), d.Min, 0)
}

func (b *binding) env(r *txn.Request, now time.Time) Env {
	loc := b.engine.loc
	field := r.Field
	if field == nil {
		field = func(int) string { return "" }
	}
	tag := r.Tag
	if tag == nil {
		tag = func(string) string { return "" }
	}
	bin := r.PAN
	if len(bin) > 6 {
		bin = bin[:6]
	}
	return Env{
		MTI: r.MTI, Txn: string(r.Type), Proc: r.Proc, Amount: r.Amount, Currency: r.Currency,
		PAN: r.PAN, BIN: bin, TID: r.TID, MID: r.MID, STAN: r.STAN, RRN: r.RRN, Batch: r.Batch,
		EntryMode: r.EntryMode, Now: now.In(loc), Field: field,
		Tag: tag, Chip: string(r.Chip), CardSeq: r.CardSeq,
		Contactless: txn.Contactless(r.EntryMode), Fallback: txn.Fallback(r.EntryMode, r.Field),
		Between: func(from, to string) bool {
			a, err1 := timeOfDay(from)
			z, err2 := timeOfDay(to)
			if err1 != nil || err2 != nil {
				return false
			}
			t := now.In(loc)
			m := t.Hour()*60 + t.Minute()
			if a <= z {
				return a <= m && m < z
			}
			return m >= a || m < z
		},
	}
}

// needsSignOn lists what a terminal may not do before signing on.
func needsSignOn(t txn.Type) bool { return txn.Of(t).NeedsSignOn }
