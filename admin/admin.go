// Package admin is the host's HTTP admin API: health, the journal, the clock
// and a reset, for the tests and people driving the host.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
)

// API is what the admin endpoints act on.
type API struct {
	Journal *journal.Journal
	Clock   *clock.Clock
	// Reset forgets all host state: terminals, batches, transactions,
	// scenario counters, the journal.
	Reset func()
	// ResetTerminal forgets one terminal's state and scenario counters.
	ResetTerminal func(tid string)
	// Books, when set, serve the settlement endpoints.
	Books Books
	// Engine and Library, when set, serve the scenario endpoints.
	Engine  *scenarios.Engine
	Library *scenarios.Library
	// Describe, when set, serves GET /journal/{seq}: it reads a frame the
	// journal kept, in the host's dialect, card data masked
	// (dialect.Dialect.Describe).
	Describe func(frame []byte) dialect.Detail
	// Metrics, when set, serves GET /metrics.
	Metrics http.Handler
	// Token, when set, is required on every call: "Authorization: Bearer TOKEN".
	Token string
	// Addr is the address the API listens on: as it was configured, so that
	// a name given there is one the API answers to, or as its listener
	// reports it. A request's Host may name its host, with any port. When it
	// is every interface (":8584", 0.0.0.0, [::]), any IP address is accepted
	// too, but a name still needs AllowHosts. When empty, the IP address
	// each connection came in on stands for it.
	Addr string
	// AllowHosts are host names, beyond loopback names and the address the
	// API listens on, that a request's Host header may name
	// (--admin-allow-host): "name" with any port, or "name:port".
	AllowHosts []string
	// Descriptors, when set, says why the host lately could not take new
	// terminal connections for want of file descriptors (nil when it could):
	// /healthz is then 503.
	Descriptors func() error
	// MaxStreams caps GET /journal/stream subscribers open at once; one
	// more is answered 503. Zero means DefaultMaxStreams.
	MaxStreams int
}

// maxBody bounds request bodies; the API takes nothing large.
const maxBody = 1 << 20

// route is one endpoint of the API; the table is also what GET /openapi.yaml
// is checked against.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routes lists the endpoints this API serves, given what it was handed.
func (a *API) routes() []route {
	rs := []route{
		{"GET", "/healthz", a.health},
		{"GET", "/openapi.yaml", serveOpenAPI},
		{"GET", "/{$}", a.console},
		{"GET", "/console/{file}", a.consoleAsset},
		{"GET", "/journal", a.journal},
		{"GET", "/journal/stream", notFromAnotherSite(a.stream)},
		{"GET", "/verify", a.verify},
		{"GET", "/verify/sequence", a.verifySequence},
		{"POST", "/reset", a.reset},
		{"GET", "/clock", a.getClock},
		{"PUT", "/clock", a.putClock},
	}
	if a.Books != nil {
		rs = append(rs, route{"GET", "/settlements", a.settlements}, route{"GET", "/batches", a.batches})
	}
	if a.Engine != nil && a.Library != nil {
		rs = append(rs,
			route{"GET", "/scenarios", a.listScenarios},
			route{"GET", "/scenarios/{name}", a.getScenario},
			route{"PUT", "/scenario", a.putScenario},
			route{"DELETE", "/scenario", a.deleteScenario},
			route{"PUT", "/terminals/{tid}/scenario", a.bindTerminal},
			route{"DELETE", "/terminals/{tid}/scenario", a.unbindTerminal},
		)
	}
	if a.Describe != nil {
		rs = append(rs, route{"GET", "/journal/{seq}", a.exchange})
	}
	if a.Metrics != nil {
		rs = append(rs, route{"GET", "/metrics", a.Metrics.ServeHTTP})
	}
	return rs
}

// Handler returns the API's routes. Each request's Host is checked first
// (hostGuard), then the token when there is one; the routes that change
// state also refuse other origins and form bodies (sameOrigin). A request
// for no route, or with the wrong method, is answered 404 or 405 as it is.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		h := rt.handler
		if rt.method != http.MethodGet {
			h = sameOrigin(h)
		}
		mux.HandleFunc(rt.method+" "+rt.path, h)
	}
	if a.Token == "" {
		return a.hostGuard(mux)
	}
	want := []byte(a.Token)
	return a.hostGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !consoleRequest(r) && subtle.ConstantTimeCompare([]byte(bearer(credentials(r))), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="acqsim"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer TOKEN")
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// bearer returns the token of an "Authorization: Bearer TOKEN" value (the
// scheme's case does not matter), or "".
func bearer(auth string) string {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// reset answers POST /reset (everything) and POST /reset?tid= (one terminal).
func (a *API) reset(w http.ResponseWriter, r *http.Request) {
	if tid := r.URL.Query().Get("tid"); tid != "" {
		if a.ResetTerminal == nil {
			writeError(w, http.StatusNotImplemented, "this host cannot reset one terminal")
			return
		}
		a.ResetTerminal(tid)
		writeJSON(w, http.StatusOK, ResetAnswer{Status: "reset", TID: tid})
		return
	}
	a.Reset()
	writeJSON(w, http.StatusOK, ResetAnswer{Status: "reset"})
}

// ResetAnswer is POST /reset's answer: status "reset", and the terminal
// when one was reset alone.
type ResetAnswer struct {
	Status string `json:"status"`
	TID    string `json:"tid,omitempty"`
}

// ClockState is the answer to GET and PUT /clock: the host's virtual time,
// its offset from real time (a Go duration, to the millisecond) and whether
// it is frozen.
type ClockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
	Frozen bool      `json:"frozen"`
}

func (a *API) clockState() ClockState {
	return ClockState{Now: a.Clock.Now(), Offset: a.Clock.Offset().Round(time.Millisecond).String(), Frozen: a.Clock.Frozen()}
}

func (a *API) getClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.clockState())
}

// putClock answers PUT /clock. The body sets the clock to an instant
// {"now": RFC3339}, or to an offset from real time {"offset": "-2h"}, or moves
// it {"advance": "90s"}, and may freeze or release it {"freeze": true}; the
// keys combine (a freeze first, a release last).
func (a *API) putClock(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Now     *string `json:"now"`
		Offset  *string `json:"offset"`
		Advance *string `json:"advance"`
		Freeze  *bool   `json:"freeze"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "body: want one object with now (RFC 3339), offset, advance (durations) or freeze (bool)")
		return
	}
	if b.Now == nil && b.Offset == nil && b.Advance == nil && b.Freeze == nil {
		writeError(w, http.StatusBadRequest, "body: give now, offset, advance or freeze")
		return
	}
	var now time.Time
	var offset, advance time.Duration
	var err error
	if b.Now != nil {
		if now, err = time.Parse(time.RFC3339Nano, *b.Now); err != nil {
			writeError(w, http.StatusBadRequest, "now: want an RFC 3339 time such as 2026-06-11T22:59:00+08:00")
			return
		}
	}
	for name, v := range map[string]struct {
		src *string
		dst *time.Duration
	}{"offset": {b.Offset, &offset}, "advance": {b.Advance, &advance}} {
		if v.src != nil {
			if *v.dst, err = time.ParseDuration(*v.src); err != nil {
				writeError(w, http.StatusBadRequest, name+": want a duration such as 90s or -2h")
				return
			}
		}
	}
	// Every time the clock would read on the way, checked before anything
	// changes, so that a call is taken whole or not at all.
	at := a.Clock.Now()
	var steps []time.Time
	if b.Now != nil {
		at = now
		steps = append(steps, at)
	}
	if b.Offset != nil {
		at = time.Now().Add(offset)
		steps = append(steps, at)
	}
	if b.Advance != nil {
		at = at.Add(advance)
		steps = append(steps, at)
	}
	for _, t := range steps {
		if err := clock.Check(t); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	// Freezing first stops the clock exactly at the time given with it.
	if b.Freeze != nil && *b.Freeze {
		a.Clock.Freeze(true)
	}
	if b.Now != nil {
		a.Clock.Set(now)
	}
	if b.Offset != nil {
		a.Clock.SetOffset(offset)
	}
	if b.Advance != nil {
		a.Clock.Advance(advance)
	}
	if b.Freeze != nil && !*b.Freeze {
		a.Clock.Freeze(false)
	}
	writeJSON(w, http.StatusOK, a.clockState())
}

// health is 200 while the host can do its work, and 503 saying why not: the
// journal cannot record (its disk full), so the host answers 96.
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	if err := a.Journal.Health(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"status": "failing", "journal": err.Error(),
			"effect": "requests are answered 96 (system error) until the journal records again"})
		return
	}
	if a.Descriptors != nil {
		if err := a.Descriptors(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "failing", "descriptors": err.Error(),
				"effect": "new terminal connections are reset while the host is out of file descriptors; raise its limit (ulimit -n) or close connections"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// writeJSON answers with v, encoded before the status goes out: what cannot
// be encoded is a 500 with a reason, not a 200 with an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// ErrorAnswer is what every refused call answers: error says why. A
// scenario that does not load also lists its problems, one a place in the
// file ("body").
type ErrorAnswer struct {
	Error    string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one problem of a scenario sent to the API: the line and
// column of the body it is at (0 when not known) and what is wrong.
type Problem struct {
	Line   int    `json:"line"`
	Column int    `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// problemsOf lists a load error's problems as the API answers them.
func problemsOf(err error) []Problem {
	var out []Problem
	for _, p := range scenarios.Problems(err) {
		out = append(out, Problem{Line: p.Line, Column: p.Column, Reason: p.Reason})
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
