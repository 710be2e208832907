package admin_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// approver is the default host behaviour under the engine: it approves
// everything, and answers a forced code as given.
type approver struct{}

func (approver) Decide(*txn.Request, time.Time) txn.Decision { return txn.Decision{RC: "00"} }
func (approver) Force(_ *txn.Request, _ time.Time, rc string, _ bool) txn.Decision {
	return txn.Decision{RC: rc}
}
func (approver) SignedOn(string, string) bool { return true }
func (approver) Repeated(*txn.Request) bool   { return false }

var _ scenarios.Decider = approver{}

type scenarioFixture struct {
	fixture
	engine *scenarios.Engine
	lib    *scenarios.Library

	mu        sync.Mutex
	resetTIDs []string // ResetTerminal's arguments, in order
}

// newScenarioServer serves the API with a real engine over the built-in
// library, no scenario bound.
func newScenarioServer(t *testing.T) *scenarioFixture {
	t.Helper()
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	f := &scenarioFixture{engine: scenarios.NewEngine(approver{}, 1, time.UTC), lib: lib}
	f.clock = clock.New(t0)
	f.resets = new(atomic.Int32)
	api := &admin.API{
		Journal: journal.New(10), Clock: f.clock,
		Reset: func() { f.resets.Add(1) },
		ResetTerminal: func(tid string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.resetTIDs = append(f.resetTIDs, tid)
		},
		Engine: f.engine, Library: lib,
	}
	f.srv = httptest.NewServer(api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// bindings checks what the engine has bound.
func (f *scenarioFixture) bindings(t *testing.T, global string, terminals map[string]string) {
	t.Helper()
	g, ts := f.engine.Bindings()
	if g != global {
		t.Errorf("global scenario %q, want %q", g, global)
	}
	if !maps.Equal(ts, terminals) {
		t.Errorf("terminal scenarios %v, want %v", ts, terminals)
	}
}

// rc is what the engine answers a sale from tid.
func (f *scenarioFixture) rc(tid string) string {
	return f.engine.Plan(&txn.Request{MTI: "0200", Type: txn.Sale, TID: tid, Amount: 100}, t0).Decision.RC
}

// wantStatus checks the status and a JSON body, and decodes the body into v.
func wantStatus(t *testing.T, want, status int, ct string, body []byte, v any) {
	t.Helper()
	if status != want {
		t.Fatalf("status %d, want %d; body %s", status, want, body)
	}
	wantJSON(t, ct)
	decode(t, body, v)
}

// answer checks the status and returns the JSON object answered.
func answer(t *testing.T, want, status int, ct string, body []byte) map[string]string {
	t.Helper()
	var m map[string]string
	wantStatus(t, want, status, ct, body, &m)
	return m
}

type listEntry struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type listBody struct {
	Scenarios []listEntry       `json:"scenarios"`
	Global    string            `json:"global"`
	Terminals map[string]string `json:"terminals"`
}

func (f *scenarioFixture) list(t *testing.T) listBody {
	t.Helper()
	status, ct, body := f.do(t, http.MethodGet, "/scenarios", "")
	var l listBody
	wantStatus(t, http.StatusOK, status, ct, body, &l)
	if l.Terminals == nil {
		t.Errorf("terminals is %s, want an object", body)
	}
	return l
}

func TestListScenarios(t *testing.T) {
	f := newScenarioServer(t)
	files, err := os.ReadDir("../fixtures/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range files {
		want = append(want, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	// By scenario name, as the library lists them: the files sort otherwise
	// when one name is a prefix of another ("x-once.yaml" < "x.yaml").
	slices.Sort(want)

	l := f.list(t)
	var got []string
	for _, s := range l.Scenarios {
		got = append(got, s.Name)
		c, _ := f.lib.Get(s.Name)
		if s.Description == "" || c == nil || s.Description != c.Description {
			t.Errorf("%s: description %q, want the scenario's own, not empty", s.Name, s.Description)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want every built-in, by name: %v", got, want)
	}
	if l.Global != "" || len(l.Terminals) != 0 {
		t.Errorf("fresh host lists bindings global=%q terminals=%v, want none", l.Global, l.Terminals)
	}

	timeout, _ := f.lib.Get("timeout")
	funds, _ := f.lib.Get("insufficient-funds")
	f.engine.SetGlobal(timeout)
	f.engine.Bind("T1", funds)
	f.engine.Bind("T2", nil)
	l = f.list(t)
	if l.Global != "timeout" {
		t.Errorf("global %q, want timeout", l.Global)
	}
	if want := map[string]string{"T1": "insufficient-funds", "T2": ""}; !maps.Equal(l.Terminals, want) {
		t.Errorf("terminals %v, want %v", l.Terminals, want)
	}
}

func TestGetScenario(t *testing.T) {
	f := newScenarioServer(t)
	want, err := os.ReadFile("../fixtures/scenarios/insufficient-funds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	status, ct, body := f.do(t, http.MethodGet, "/scenarios/insufficient-funds", "")
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", status, body)
	}
	if ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	if string(body) != string(want) {
		t.Errorf("body is not the scenario file:\n%s", body)
	}

	status, ct, body = f.do(t, http.MethodGet, "/scenarios/no-such-scenario", "")
	var e struct {
		Error string `json:"error"`
	}
	wantStatus(t, http.StatusNotFound, status, ct, body, &e)
	if !strings.Contains(e.Error, "no-such-scenario") {
		t.Errorf("error %q does not name the scenario", e.Error)
	}
}

// custom is a scenario that is not built in.
const custom = `name: custom-decline
description: Sales are declined with 05.
rules:
  - match: txn == "sale"
    respond: { rc: "05" }
`

func TestPutScenario(t *testing.T) {
	f := newScenarioServer(t)
	status, ct, body := f.do(t, http.MethodPut, "/scenario", `{"name": "timeout"}`)
	got := answer(t, http.StatusOK, status, ct, body)
	if got["global"] != "timeout" {
		t.Errorf("answer %s, want global timeout", body)
	}
	f.bindings(t, "timeout", map[string]string{})

	// A name the library does not have changes nothing.
	status, ct, body = f.do(t, http.MethodPut, "/scenario", `{"name": "no-such-scenario"}`)
	answer(t, http.StatusNotFound, status, ct, body)
	f.bindings(t, "timeout", map[string]string{})

	// A YAML body joins the library and is bound.
	status, ct, body = f.do(t, http.MethodPut, "/scenario", custom)
	got = answer(t, http.StatusOK, status, ct, body)
	if got["global"] != "custom-decline" {
		t.Errorf("answer %s, want global custom-decline", body)
	}
	f.bindings(t, "custom-decline", map[string]string{})
	if rc := f.rc("T9"); rc != "05" {
		t.Errorf("a sale under custom-decline gets %q, want 05", rc)
	}
	if c, ok := f.lib.Get("custom-decline"); !ok || string(c.Source) != custom {
		t.Errorf("custom-decline not in the library as sent")
	}
	status, _, body = f.do(t, http.MethodGet, "/scenarios/custom-decline", "")
	if status != http.StatusOK || string(body) != custom {
		t.Errorf("GET /scenarios/custom-decline: status %d, body %s", status, body)
	}
	if l := f.list(t); !slices.Contains(l.Scenarios, listEntry{"custom-decline", "Sales are declined with 05."}) {
		t.Errorf("GET /scenarios does not list custom-decline: %+v", l.Scenarios)
	}

	// Bound by name now that the library has it.
	f.do(t, http.MethodPut, "/scenario", `{"name": "timeout"}`)
	status, ct, body = f.do(t, http.MethodPut, "/scenario", `{"name": "custom-decline"}`)
	answer(t, http.StatusOK, status, ct, body)
	f.bindings(t, "custom-decline", map[string]string{})
}

func TestPutScenarioBadYAML(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // in the error, in this order
	}{
		{"unknown key", "name: x\nrules:\n  - match: txn == \"sale\"\n    respnd: { rc: \"05\" }\n",
			[]string{"body:4:", "respnd"}},
		{"unknown action", "name: x\nrules:\n  - action: explode\n", []string{"body:3:", "explode"}},
		{"bad response code", "name: x\nrules:\n  - respond: { rc: \"5\" }\n", []string{"body:3:", `rc "5"`}},
		{"bad expression", "name: x\nrules:\n  - match: txn ==\n", []string{"body:3:", "match"}},
		{"not YAML", "name: x\nrules: [\n", []string{"body:", "did not find expected node content"}},
		{"no name", "description: nameless\n", []string{"body:1:", "name"}},
		{"bad delay", "name: x\nrules:\n  - delay: soon\n", []string{"body:3:", `delay "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/scenario", "/terminals/T1/scenario"} {
				f := newScenarioServer(t)
				before := len(f.lib.All())
				status, ct, body := f.do(t, http.MethodPut, path, tt.body)
				wantError(t, status, ct, body)
				var e admin.ErrorAnswer
				decode(t, body, &e)
				// The problems say in fields what the error says in words.
				if len(e.Problems) == 0 {
					t.Errorf("PUT %s: the answer lists no problems: %s", path, body)
				} else if p := e.Problems[0]; !strings.HasPrefix(e.Error, fmt.Sprintf("body:%d: %s", p.Line, p.Reason)) {
					t.Errorf("PUT %s: first problem %+v is not the error's first line %q", path, p, e.Error)
				}
				rest := e.Error
				for _, w := range tt.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Errorf("PUT %s: error %q lacks %q (after what came before)", path, e.Error, w)
						break
					}
					rest = rest[i+len(w):]
				}
				f.bindings(t, "", map[string]string{})
				if n := len(f.lib.All()); n != before {
					t.Errorf("PUT %s: the library went from %d to %d scenarios", path, before, n)
				}
			}
		})
	}
}

func TestTerminalScenario(t *testing.T) {
	f := newScenarioServer(t)
	status, ct, body := f.do(t, http.MethodPut, "/terminals/T1/scenario", `{"name": "insufficient-funds"}`)
	got := answer(t, http.StatusOK, status, ct, body)
	if want := map[string]string{"terminal": "T1", "scenario": "insufficient-funds"}; !maps.Equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	status, ct, body = f.do(t, http.MethodPut, "/terminals/T2/scenario", custom)
	got = answer(t, http.StatusOK, status, ct, body)
	if want := map[string]string{"terminal": "T2", "scenario": "custom-decline"}; !maps.Equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	f.bindings(t, "", map[string]string{"T1": "insufficient-funds", "T2": "custom-decline"})
	for tid, want := range map[string]string{"T1": "51", "T2": "05", "T3": "00"} {
		if rc := f.rc(tid); rc != want {
			t.Errorf("a sale from %s gets %q, want %s", tid, rc, want)
		}
	}
	if _, ok := f.lib.Get("custom-decline"); !ok {
		t.Error("a scenario bound to a terminal from a YAML body did not join the library")
	}

	status, ct, body = f.do(t, http.MethodPut, "/terminals/T3/scenario", `{"name": "no-such-scenario"}`)
	answer(t, http.StatusNotFound, status, ct, body)

	status, ct, body = f.do(t, http.MethodDelete, "/terminals/T1/scenario", "")
	got = answer(t, http.StatusOK, status, ct, body)
	if want := map[string]string{"terminal": "T1", "scenario": ""}; !maps.Equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	f.bindings(t, "", map[string]string{"T2": "custom-decline"})

	// An unbound terminal follows the global scenario again.
	f.do(t, http.MethodPut, "/scenario", `{"name": "insufficient-funds"}`)
	if rc := f.rc("T1"); rc != "51" {
		t.Errorf("after DELETE, a sale from T1 gets %q, want 51 from the global scenario", rc)
	}
	if rc := f.rc("T2"); rc != "05" {
		t.Errorf("T2 gets %q, want 05 from its own scenario over the global one", rc)
	}
}

func TestDeleteScenario(t *testing.T) {
	f := newScenarioServer(t)
	f.do(t, http.MethodPut, "/scenario", `{"name": "insufficient-funds"}`)
	f.do(t, http.MethodPut, "/terminals/T1/scenario", `{"name": "timeout"}`)
	status, ct, body := f.do(t, http.MethodDelete, "/scenario", "")
	got := answer(t, http.StatusOK, status, ct, body)
	if want := map[string]string{"global": ""}; !maps.Equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	f.bindings(t, "", map[string]string{"T1": "timeout"})
	if rc := f.rc("T2"); rc != "00" {
		t.Errorf("after DELETE /scenario a sale gets %q, want the default 00", rc)
	}
}

func TestResetOneTerminal(t *testing.T) {
	f := newScenarioServer(t)
	status, ct, body := f.do(t, http.MethodPost, "/reset?tid=T1", "")
	got := answer(t, http.StatusOK, status, ct, body)
	if want := map[string]string{"status": "reset", "tid": "T1"}; !maps.Equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	f.mu.Lock()
	tids := slices.Clone(f.resetTIDs)
	f.mu.Unlock()
	if !slices.Equal(tids, []string{"T1"}) {
		t.Errorf("ResetTerminal called with %q, want once with T1", tids)
	}
	if n := f.resets.Load(); n != 0 {
		t.Errorf("POST /reset?tid=T1 called Reset %d times, want 0", n)
	}

	status, ct, body = f.do(t, http.MethodPost, "/reset", "")
	got = answer(t, http.StatusOK, status, ct, body)
	if want := map[string]string{"status": "reset"}; !maps.Equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	if n := f.resets.Load(); n != 1 {
		t.Errorf("POST /reset called Reset %d times, want 1", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.resetTIDs) != 1 {
		t.Errorf("POST /reset called ResetTerminal again: %q", f.resetTIDs)
	}
}

func TestScenarioBodyLimit(t *testing.T) {
	const mib = 1 << 20
	// A description that takes the document to n bytes.
	doc := func(n int) string {
		head := "name: big\ndescription: "
		return head + strings.Repeat("x", n-len(head)-1) + "\n"
	}
	for _, path := range []string{"/scenario", "/terminals/T1/scenario"} {
		t.Run(path, func(t *testing.T) {
			f := newScenarioServer(t)
			status, ct, body := f.do(t, http.MethodPut, path, doc(mib+1))
			if status != http.StatusRequestEntityTooLarge && status != http.StatusBadRequest {
				t.Fatalf("a body of 1 MiB + 1 byte: status %d, want 413 or 400; body %.200s", status, body)
			}
			wantJSON(t, ct)
			f.bindings(t, "", map[string]string{})
			if _, ok := f.lib.Get("big"); ok {
				t.Error("the refused scenario joined the library")
			}

			// 1 MiB exactly is allowed.
			status, _, body = f.do(t, http.MethodPut, path, doc(mib))
			if status != http.StatusOK {
				t.Fatalf("a body of 1 MiB: status %d, want 200; body %.200s", status, body)
			}
		})
	}
}

func TestScenarioRoutesNeedAnEngine(t *testing.T) {
	f := newServer(t) // no Engine or Library
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/scenarios"},
		{http.MethodGet, "/scenarios/timeout"},
		{http.MethodPut, "/scenario"},
		{http.MethodPut, "/terminals/T1/scenario"},
	} {
		if status, _, _ := f.do(t, r.method, r.path, `{"name": "timeout"}`); status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s without an engine: status %d, want 404 or 405", r.method, r.path, status)
		}
	}
}

// A terminal binding names a terminal ID a terminal could send, and a loaded
// scenario cannot take a built-in one's name.
func TestBindingRefusals(t *testing.T) {
	f := newScenarioServer(t)
	for _, tid := range []string{"%20", "%20%20%20", "TOOLONG01", "TERM%0A01"} {
		if status, _, body := f.do(t, http.MethodPut, "/terminals/"+tid+"/scenario", `{"name": "timeout"}`); status != http.StatusBadRequest {
			t.Errorf("PUT /terminals/%s/scenario: %d %s, want 400", tid, status, body)
		}
	}
	if status, _, body := f.do(t, http.MethodPut, "/scenario", `{"name": "timeout", "description": "an impostor"}`); status != http.StatusConflict {
		t.Errorf("PUT /scenario with a built-in's name: %d %s, want 409", status, body)
	}
	if status, _, body := f.do(t, http.MethodPut, "/terminals/TERM0001/scenario", `{"name": "timeout"}`); status != http.StatusOK {
		t.Errorf("PUT /terminals/TERM0001/scenario: %d %s, want 200", status, body)
	}
	f.bindings(t, "", map[string]string{"TERM0001": "timeout"})
}

// TestPutScenarioNameNotAString: a body of a name alone names a scenario the
// library knows, in JSON or YAML; a name that is not a string is refused
// (400), never loaded as a new scenario by that name (PUT {"name": 5} once
// created and bound a scenario called "5"). A string the library does not
// know is still 404.
func TestPutScenarioNameNotAString(t *testing.T) {
	for _, path := range []string{"/scenario", "/terminals/T1/scenario"} {
		for _, tt := range []struct {
			body string
			want int
		}{
			{`{"name": 5}`, http.StatusBadRequest},
			{`{"name": 5.0}`, http.StatusBadRequest},
			{`{"name": true}`, http.StatusBadRequest},
			{`{"name": null}`, http.StatusBadRequest},
			{`{"name": ""}`, http.StatusBadRequest},
			{`{"name": ["timeout"]}`, http.StatusBadRequest},
			{`{"name": {"name": "timeout"}}`, http.StatusBadRequest},
			{"name: 5\n", http.StatusBadRequest},
			{"name: 2026-06-12\n", http.StatusBadRequest},
			{"name: ~\n", http.StatusBadRequest},
			{`{"name": "5"}`, http.StatusNotFound},
			{"name: no-such-scenario\n", http.StatusNotFound},
			{"{\n\t\"name\": \"timeout\"\n}", http.StatusOK},
			{"name: timeout\n", http.StatusOK},
			{"name: \"timeout\" # the built-in\n", http.StatusOK},
		} {
			t.Run(path+" "+tt.body, func(t *testing.T) {
				f := newScenarioServer(t)
				before := len(f.lib.All())
				status, ct, body := f.do(t, http.MethodPut, path, tt.body)
				if status != tt.want {
					t.Fatalf("status %d, want %d; body %s", status, tt.want, body)
				}
				wantJSON(t, ct)
				if n := len(f.lib.All()); n != before {
					t.Errorf("the library went from %d to %d scenarios", before, n)
				}
				if _, ok := f.lib.Get("5"); ok {
					t.Error(`the library has a scenario named "5"`)
				}
				if tt.want == http.StatusOK {
					return
				}
				var e struct {
					Error string `json:"error"`
				}
				decode(t, body, &e)
				if tt.want == http.StatusBadRequest && !strings.Contains(e.Error, "want a string naming a known scenario") {
					t.Errorf("error %q does not say what a name must be", e.Error)
				}
				f.bindings(t, "", map[string]string{})
			})
		}
	}
}
