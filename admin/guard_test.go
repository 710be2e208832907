package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
)

// guarded is an API with state a cross-site call could destroy: a journal
// with entries, which POST /reset empties, and an engine with no scenario
// bound, which PUT /scenario binds.
type guarded struct {
	srv     *httptest.Server
	journal *journal.Journal
	engine  *scenarios.Engine
	clock   *clock.Clock
}

// newGuarded serves the API on a loopback listener; with, when given,
// changes the API before it is served.
func newGuarded(t *testing.T, with func(*admin.API)) *guarded {
	t.Helper()
	return newGuardedWrapped(t, with, nil)
}

// newGuardedWrapped is newGuarded with the API's handler inside wrap.
func newGuardedWrapped(t *testing.T, with func(*admin.API), wrap func(http.Handler) http.Handler) *guarded {
	t.Helper()
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	g := &guarded{journal: journal.New(10), engine: scenarios.NewEngine(approver{}, 1, time.UTC), clock: clock.New(t0)}
	for _, stan := range []string{"000001", "000002", "000003"} {
		g.journal.Append(journal.Entry{Time: t0, MTI: "0200", Txn: "sale", STAN: stan, TID: "TERM0001", RC: "00"})
	}
	api := &admin.API{
		Journal: g.journal, Clock: g.clock, Reset: g.journal.Reset, ResetTerminal: func(string) {},
		Engine: g.engine, Library: lib,
	}
	if with != nil {
		with(api)
	}
	h := api.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	g.srv = httptest.NewServer(h)
	t.Cleanup(g.srv.Close)
	return g
}

// call is one request as a browser or a tool would send it.
type call struct {
	method, path, body string
	host               string            // the Host header; "" for the server's own address
	header             map[string]string // Origin, Sec-Fetch-Site, Content-Type, Authorization
}

// send makes the call over the loopback listener, and returns the status and
// the error the API gave ("" for none).
func (g *guarded) send(t *testing.T, c call) (int, string) {
	t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, g.srv.URL+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode < 300 || resp.StatusCode == http.StatusMethodNotAllowed {
		return resp.StatusCode, "" // the mux's own answer, in plain text
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: status %d with Content-Type %q, want a JSON reason", c.method, c.path, resp.StatusCode, ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Error == "" {
		t.Errorf("%s %s: status %d, body %q: want {\"error\": reason}", c.method, c.path, resp.StatusCode, raw)
	}
	return resp.StatusCode, e.Error
}

// untouched checks that nothing a refused call could change has changed.
func (g *guarded) untouched(t *testing.T) {
	t.Helper()
	if n := len(g.journal.Query(journal.Filter{})); n != 3 {
		t.Errorf("the journal holds %d entries, want its 3: a refused call reset it", n)
	}
	if global, terms := g.engine.Bindings(); global != "" || len(terms) != 0 {
		t.Errorf("bindings %q %v: a refused call bound a scenario", global, terms)
	}
	if d := g.clock.Now().Sub(t0); d < 0 || d > margin {
		t.Errorf("the clock reads %v: a refused call moved it", g.clock.Now())
	}
}

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// TestCrossSiteRefused: what a page on another site can make a browser send
// without asking (a form, a no-cors fetch), or send through a name it rebound
// to this machine, is refused before it changes anything: 403 for another
// origin or a Host this API does not answer to, 415 for a form's body.
func TestCrossSiteRefused(t *testing.T) {
	evil := map[string]string{"Origin": "http://evil.example", "Content-Type": formType}
	tests := []struct {
		name string
		call call
		want int
		says string // in the reason
	}{
		{"a cross-site form posts /reset",
			call{method: "POST", path: "/reset", header: evil}, 403, "Origin"},
		{"a cross-site form posts /reset?tid=",
			call{method: "POST", path: "/reset?tid=TERM0001", body: "x=1", header: evil}, 403, "Origin"},
		{"a rebound name PUTs /scenario",
			call{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: "attacker.example",
				header: map[string]string{"Content-Type": jsonType}}, 403, "--admin-allow-host attacker.example"},
		{"a rebound name, with a port, PUTs /scenario",
			call{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: "attacker.example:8584",
				header: map[string]string{"Content-Type": jsonType}}, 403, "--admin-allow-host attacker.example"},
		{"a rebound name, its own Origin too",
			call{method: "POST", path: "/reset", host: "attacker.example:8584",
				header: map[string]string{"Origin": "http://attacker.example:8584"}}, 403, "DNS rebinding"},
		{"a rebound name reads the journal",
			call{method: "GET", path: "/journal", host: "attacker.example"}, 403, "--admin-allow-host"},
		{"a rebound name opens the console",
			call{method: "GET", path: "/", host: "attacker.example"}, 403, "--admin-allow-host"},
		{"another site's page opens a live stream (takes a capped slot)",
			call{method: "GET", path: "/journal/stream", header: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}}, 403, "live stream"},
		{"a sandboxed frame (Origin null)",
			call{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`,
				header: map[string]string{"Origin": "null", "Content-Type": jsonType}}, 403, `Origin "null"`},
		{"another port of this machine",
			call{method: "PUT", path: "/clock", body: `{"advance": "1h"}`,
				header: map[string]string{"Origin": "http://127.0.0.1:1", "Content-Type": jsonType}}, 403, "Origin"},
		{"localhost for 127.0.0.1",
			call{method: "POST", path: "/reset", header: map[string]string{"Origin": "http://localhost"}}, 403, "Origin"},
		{"an Origin with a path",
			call{method: "POST", path: "/reset", host: "localhost", header: map[string]string{"Origin": "http://localhost/x"}}, 403, "Origin"},
		{"Sec-Fetch-Site cross-site",
			call{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`,
				header: map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": jsonType}}, 403, "Sec-Fetch-Site"},
		{"Sec-Fetch-Site same-site",
			call{method: "DELETE", path: "/scenario", header: map[string]string{"Sec-Fetch-Site": "same-site"}}, 403, "Sec-Fetch-Site"},
		{"a text/plain body",
			call{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`,
				header: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}}, 415, "application/json"},
		{"a form body, no Origin",
			call{method: "POST", path: "/reset", header: map[string]string{"Content-Type": formType}}, 415, "application/json"},
		{"a multipart body",
			call{method: "PUT", path: "/terminals/TERM0001/scenario", body: "--b\r\n\r\nname: timeout\r\n--b--\r\n",
				header: map[string]string{"Content-Type": "Multipart/Form-Data; boundary=b"}}, 415, "application/yaml"},
		{"a text/plain body, spelt loosely",
			call{method: "PUT", path: "/clock", body: `{"advance": "1h"}`,
				header: map[string]string{"Content-Type": " TEXT/PLAIN ; charset"}}, 415, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuarded(t, nil)
			status, reason := g.send(t, tt.call)
			if status != tt.want {
				t.Errorf("status %d (%s), want %d", status, reason, tt.want)
			}
			if !strings.Contains(reason, tt.says) {
				t.Errorf("reason %q does not say %q", reason, tt.says)
			}
			g.untouched(t)
		})
	}
}

// TestSameOriginAccepted: the console (same-origin: its Origin is the Host it
// was loaded from) and tools (no Origin, no Sec-Fetch-Site; curl -X POST with
// no body and no Content-Type) still change the host.
func TestSameOriginAccepted(t *testing.T) {
	g := newGuarded(t, nil)
	self := strings.TrimPrefix(g.srv.URL, "http://")
	console := map[string]string{"Origin": g.srv.URL, "Sec-Fetch-Site": "same-origin", "Content-Type": jsonType}
	for _, c := range []call{
		{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, header: console},
		{method: "PUT", path: "/terminals/TERM0001/scenario", body: `{"name": "magic-amounts"}`, header: console},
		{method: "DELETE", path: "/terminals/TERM0001/scenario", header: map[string]string{"Origin": g.srv.URL, "Sec-Fetch-Site": "same-origin"}},
		{method: "PUT", path: "/clock", body: `{"freeze": true}`, header: console},
		{method: "PUT", path: "/clock", body: `{"freeze": false}`, header: map[string]string{"Content-Type": "Application/JSON; charset=utf-8"}},
		{method: "PUT", path: "/scenario", body: "name: insufficient-funds\n", header: map[string]string{"Content-Type": "application/yaml"}},
		// A typed address, a bookmark: the browser's own navigation.
		{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, header: map[string]string{"Sec-Fetch-Site": "none", "Content-Type": jsonType}},
		// The same origin spelt as a name the API answers to.
		{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: "localhost",
			header: map[string]string{"Origin": "http://localhost", "Content-Type": jsonType}},
		{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: "LocalHost:80",
			header: map[string]string{"Origin": "http://localhost", "Content-Type": jsonType}},
		{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: "console.acqsim.localhost:8584",
			header: map[string]string{"Origin": "https://console.acqsim.localhost:8584", "Content-Type": jsonType}},
		{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: "[::1]:8584",
			header: map[string]string{"Origin": "http://[::1]:8584", "Content-Type": jsonType}},
		{method: "GET", path: "/journal", host: "127.9.9.9:1"},
		{method: "GET", path: "/healthz", host: self},
		// curl -X POST localhost:8584/reset: no body, no Content-Type.
		{method: "POST", path: "/reset", host: "localhost:8584"},
	} {
		if status, reason := g.send(t, c); status != http.StatusOK {
			t.Errorf("%s %s (Host %q, %v): status %d (%s), want 200", c.method, c.path, c.host, c.header, status, reason)
		}
	}
	if n := len(g.journal.Query(journal.Filter{})); n != 0 {
		t.Errorf("after POST /reset the journal holds %d entries", n)
	}
	if global, _ := g.engine.Bindings(); global != "timeout" {
		t.Errorf("global scenario %q, want timeout", global)
	}
	// Only a route that changes state is guarded: a form posted to one that
	// does not exist is still told so.
	if status, _ := g.send(t, call{method: "POST", path: "/", header: evilForm}); status != http.StatusMethodNotAllowed {
		t.Errorf("POST / with a form: status %d, want 405", status)
	}
}

var evilForm = map[string]string{"Origin": "http://evil.example", "Content-Type": formType}

// TestAllowHosts: --admin-allow-host lets a name in, with any port or the one
// given, and nothing else; the listen address's host is let in; listening on
// every interface lets in any IP address but still no name.
func TestAllowHosts(t *testing.T) {
	tests := []struct {
		name    string
		with    func(*admin.API)
		allowed []string
		refused []string
	}{
		{"allowed names",
			func(a *admin.API) { a.AllowHosts = []string{"acqsim.lan", "Bench.Example.:9000", "[fd00::7]"} },
			[]string{"acqsim.lan", "acqsim.lan:8584", "ACQSIM.LAN.:1", "bench.example:9000", "[fd00::7]:8584"},
			[]string{"bench.example", "bench.example:8584", "evil.acqsim.lan", "acqsim.lan.evil.example", "192.0.2.10:8584"}},
		{"a listen address by name",
			func(a *admin.API) { a.Addr = "acqsim.lan:8584" },
			[]string{"acqsim.lan:8584", "acqsim.lan", "localhost:8584"},
			[]string{"other.lan:8584", "192.0.2.10:8584"}},
		{"a listen address by IP",
			func(a *admin.API) { a.Addr = "192.0.2.10:8584" },
			[]string{"192.0.2.10:8584", "192.0.2.10:80"},
			[]string{"192.0.2.11:8584", "acqsim.lan:8584"}},
		{"every interface",
			func(a *admin.API) { a.Addr = "0.0.0.0:8584" },
			[]string{"192.0.2.10:8584", "[2001:db8::1]:8584", "10.1.2.3"},
			[]string{"acqsim.lan:8584", "attacker.example:8584"}},
		{"every interface, IPv6",
			func(a *admin.API) { a.Addr = "[::]:8584" },
			[]string{"192.0.2.10:8584", "[2001:db8::1]:8584"},
			[]string{"acqsim.lan:8584"}},
		{"every interface, no host",
			func(a *admin.API) { a.Addr = ":8584"; a.AllowHosts = []string{"acqsim.lan"} },
			[]string{"192.0.2.10:8584", "acqsim.lan:8584"},
			[]string{"other.lan:8584"}},
		{"no listen address: loopback and the connection's own",
			nil,
			[]string{"127.0.0.1:8584", "localhost"},
			[]string{"192.0.2.10:8584", "acqsim.lan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuarded(t, tt.with)
			for _, host := range tt.allowed {
				c := call{method: "PUT", path: "/scenario", body: `{"name": "timeout"}`, host: host,
					header: map[string]string{"Origin": "http://" + host, "Content-Type": jsonType}}
				if status, reason := g.send(t, c); status != http.StatusOK {
					t.Errorf("Host %s: status %d (%s), want 200", host, status, reason)
				}
			}
			for _, host := range tt.refused {
				for _, c := range []call{
					{method: "GET", path: "/journal", host: host},
					{method: "POST", path: "/reset", host: host},
				} {
					if status, reason := g.send(t, c); status != http.StatusForbidden || !strings.Contains(reason, "--admin-allow-host") {
						t.Errorf("%s with Host %s: status %d (%s), want 403 naming --admin-allow-host", c.method, host, status, reason)
					}
				}
			}
			if n := len(g.journal.Query(journal.Filter{})); n != 3 {
				t.Errorf("the journal holds %d entries, want its 3", n)
			}
		})
	}
}

// TestGuardOrder: the Host is checked before the token (a rebound name learns
// nothing, token or not), the token before the origin, and a token does not
// let another origin in: a page that somehow had it is still another site.
func TestGuardOrder(t *testing.T) {
	const token = "guard-token"
	g := newGuarded(t, func(a *admin.API) { a.Token = token })
	bearer := "Bearer " + token
	for _, tt := range []struct {
		name string
		call call
		want int
	}{
		{"a rebound name, no token", call{method: "GET", path: "/journal", host: "attacker.example"}, 403},
		{"a rebound name, the token", call{method: "GET", path: "/journal", host: "attacker.example",
			header: map[string]string{"Authorization": bearer}}, 403},
		{"no token", call{method: "POST", path: "/reset"}, 401},
		{"another origin, no token", call{method: "POST", path: "/reset", header: evilForm}, 401},
		{"another origin, the token", call{method: "POST", path: "/reset",
			header: map[string]string{"Origin": "http://evil.example", "Authorization": bearer}}, 403},
		{"a form, the token", call{method: "POST", path: "/reset",
			header: map[string]string{"Content-Type": formType, "Authorization": bearer}}, 415},
	} {
		if status, reason := g.send(t, tt.call); status != tt.want {
			t.Errorf("%s: status %d (%s), want %d", tt.name, status, reason, tt.want)
		}
	}
	g.untouched(t)
	if status, reason := g.send(t, call{method: "POST", path: "/reset", header: map[string]string{"Authorization": bearer}}); status != http.StatusOK {
		t.Errorf("POST /reset with the token: status %d (%s), want 200", status, reason)
	}
}
