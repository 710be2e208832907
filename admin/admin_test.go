package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/journal"
)

// margin is how far the virtual clock may have moved on between setting it
// and reading it back: generous, the test machine may be slow.
const margin = 30 * time.Second

var t0 = time.Date(2026, 6, 11, 22, 59, 0, 0, time.UTC)

type fixture struct {
	srv    *httptest.Server
	clock  *clock.Clock
	resets *atomic.Int32
}

// newServer serves the API on a loopback listener, with a journal holding
// entries at t0 + i minutes (Seq i+1).
func newServer(t *testing.T) fixture {
	t.Helper()
	j := journal.New(100)
	for i, e := range []journal.Entry{
		{MTI: "0800", Txn: "signon", STAN: "000001", TID: "10000001", MID: "898310048990001", RC: "00"},
		{MTI: "0200", Txn: "sale", STAN: "000002", TID: "10000001", MID: "898310048990001", RRN: "000000000001", RC: "00"},
		{MTI: "0200", Txn: "sale", STAN: "000002", TID: "10000002", MID: "898310048990002", RRN: "000000000002", RC: "51"},
		{MTI: "0400", Txn: "reversal", STAN: "000002", TID: "10000001", MID: "898310048990001", RC: "00"},
		{MTI: "0500", Txn: "settlement", STAN: "000003", TID: "10000001", MID: "898310048990001", RC: "95"},
	} {
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		j.Append(e)
	}
	f := fixture{clock: clock.New(t0), resets: new(atomic.Int32)}
	api := &admin.API{Journal: j, Clock: f.clock, Reset: func() { f.resets.Add(1) }}
	f.srv = httptest.NewServer(api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request and returns the status, the Content-Type and the body.
func (f fixture) do(t *testing.T, method, path, body string) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// decode reads a JSON body strictly into v.
func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
}

func wantJSON(t *testing.T, contentType string) {
	t.Helper()
	if !strings.HasPrefix(contentType, "application/json") {
		t.Errorf("Content-Type %q, want application/json", contentType)
	}
}

// wantError checks a 400 with a JSON error message.
func wantError(t *testing.T, status int, contentType string, body []byte) {
	t.Helper()
	if status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400; body %s", status, body)
	}
	wantJSON(t, contentType)
	var e admin.ErrorAnswer
	decode(t, body, &e)
	if e.Error == "" {
		t.Errorf("error body %s has no message", body)
	}
}

func TestHealthz(t *testing.T) {
	f := newServer(t)
	status, ct, body := f.do(t, http.MethodGet, "/healthz", "")
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	wantJSON(t, ct)
	var got map[string]string
	decode(t, body, &got)
	if got["status"] != "ok" {
		t.Errorf("body %s, want status ok", body)
	}
}

func TestJournal(t *testing.T) {
	tests := []struct {
		name  string
		query url.Values
		want  []uint64
	}{
		{"everything", nil, []uint64{1, 2, 3, 4, 5}},
		{"tid", url.Values{"tid": {"10000002"}}, []uint64{3}},
		{"mid", url.Values{"mid": {"898310048990001"}}, []uint64{1, 2, 4, 5}},
		{"stan", url.Values{"stan": {"000002"}}, []uint64{2, 3, 4}},
		{"rrn", url.Values{"rrn": {"000000000001"}}, []uint64{2}},
		{"mti", url.Values{"mti": {"0200"}}, []uint64{2, 3}},
		{"txn", url.Values{"txn": {"settlement"}}, []uint64{5}},
		{"rc", url.Values{"rc": {"00"}}, []uint64{1, 2, 4}},
		{"tid and stan", url.Values{"tid": {"10000001"}, "stan": {"000002"}}, []uint64{2, 4}},
		{"tid, stan and mti", url.Values{"tid": {"10000001"}, "stan": {"000002"}, "mti": {"0400"}}, []uint64{4}},
		{"limit keeps the latest", url.Values{"limit": {"2"}}, []uint64{4, 5}},
		{"limit 0 is everything", url.Values{"limit": {"0"}}, []uint64{1, 2, 3, 4, 5}},
		{"limit after a filter", url.Values{"stan": {"000002"}, "limit": {"1"}}, []uint64{4}},
		{"since, inclusive", url.Values{"since": {t0.Add(3 * time.Minute).Format(time.RFC3339)}}, []uint64{4, 5}},
		{"until, exclusive", url.Values{"until": {t0.Add(2 * time.Minute).Format(time.RFC3339)}}, []uint64{1, 2}},
		{"since and until with an offset", url.Values{
			"since": {"2026-06-12T07:00:00+08:00"}, // t0 + 1 minute
			"until": {"2026-06-12T07:02:30.5+08:00"},
		}, []uint64{2, 3, 4}},
		{"no match is an empty list", url.Values{"tid": {"99999999"}}, []uint64{}},
	}
	f := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/journal"
			if tt.query != nil {
				path += "?" + tt.query.Encode()
			}
			status, ct, body := f.do(t, http.MethodGet, path, "")
			if status != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200; body %s", path, status, body)
			}
			wantJSON(t, ct)
			var entries []journal.Entry
			decode(t, body, &entries)
			if entries == nil {
				t.Fatalf("GET %s: body %s, want a JSON list", path, body)
			}
			got := []uint64{}
			for _, e := range entries {
				got = append(got, e.Seq)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GET %s: seqs %v, want %v", path, got, tt.want)
			}
		})
	}
}

func TestJournalBadQuery(t *testing.T) {
	for _, q := range []string{
		"since=yesterday",
		"since=2026-06-11",
		"since=2026-06-11T22:59:00", // no zone
		"until=1749682740",
		"limit=-1",
		"limit=ten",
		"limit=1.5",
		"tid=10000001&limit=x",
	} {
		t.Run(q, func(t *testing.T) {
			f := newServer(t)
			status, ct, body := f.do(t, http.MethodGet, "/journal?"+q, "")
			wantError(t, status, ct, body)
		})
	}
}

func TestReset(t *testing.T) {
	f := newServer(t)
	for i := 1; i <= 2; i++ {
		status, ct, body := f.do(t, http.MethodPost, "/reset", "")
		if status != http.StatusOK {
			t.Fatalf("POST /reset: status %d, want 200; body %s", status, body)
		}
		wantJSON(t, ct)
		if n := f.resets.Load(); n != int32(i) {
			t.Fatalf("after %d POST /reset, Reset was called %d times", i, n)
		}
	}
}

func TestGetClock(t *testing.T) {
	f := newServer(t)
	status, ct, body := f.do(t, http.MethodGet, "/clock", "")
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", status, body)
	}
	wantJSON(t, ct)
	var got struct {
		Now    time.Time `json:"now"`
		Offset string    `json:"offset"`
		Frozen bool      `json:"frozen"`
	}
	decode(t, body, &got)
	// The clock was set to t0 when the server started.
	if d := got.Now.Sub(t0); d < 0 || d > margin {
		t.Errorf("GET /clock says %v, want within %v after %v", got.Now, margin, t0)
	}
}

func TestPutClock(t *testing.T) {
	tests := []struct {
		body string
		want time.Time
	}{
		{`{"now": "2026-06-11T22:59:00+08:00"}`, time.Date(2026, 6, 11, 14, 59, 0, 0, time.UTC)},
		{`{"now": "2026-06-12T23:30:00Z"}`, time.Date(2026, 6, 12, 23, 30, 0, 0, time.UTC)},
		{`{"now": "2030-01-01T00:00:00.5-05:00"}`, time.Date(2030, 1, 1, 5, 0, 0, 500_000_000, time.UTC)},
		{`{"now": "2001-02-03T04:05:06Z"}`, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}, // the past
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			f := newServer(t)
			status, ct, body := f.do(t, http.MethodPut, "/clock", tt.body)
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", status, body)
			}
			wantJSON(t, ct)
			if d := f.clock.Now().Sub(tt.want); d < 0 || d > margin {
				t.Errorf("after PUT the clock reads %v, want within %v after %v", f.clock.Now(), margin, tt.want)
			}
			var got struct {
				Now    time.Time `json:"now"`
				Offset string    `json:"offset"`
				Frozen bool      `json:"frozen"`
			}
			decode(t, body, &got)
			if d := got.Now.Sub(tt.want); d < 0 || d > margin {
				t.Errorf("PUT /clock answered %v, want within %v after %v", got.Now, margin, tt.want)
			}
			// GET /clock agrees.
			_, _, body = f.do(t, http.MethodGet, "/clock", "")
			decode(t, body, &got)
			if d := got.Now.Sub(tt.want); d < 0 || d > margin {
				t.Errorf("GET /clock after PUT says %v, want within %v after %v", got.Now, margin, tt.want)
			}
		})
	}
}

func TestPutClockBadBody(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"empty", ""},
		{"not JSON", "now=2026-06-11T22:59:00Z"},
		{"truncated JSON", `{"now": "2026-06-11T22:59:00Z"`},
		{"a list", `["2026-06-11T22:59:00Z"]`},
		{"unknown field", `{"now": "2026-06-11T22:59:00Z", "speed": "2x"}`},
		{"bad offset", `{"offset": "an hour"}`},
		{"bad advance", `{"advance": 90}`},
		{"bad freeze", `{"freeze": "yes"}`},
		{"only an unknown field", `{"time": "2026-06-11T22:59:00Z"}`},
		{"no time", `{}`},
		{"a number", `{"now": 1749682740}`},
		{"not a time", `{"now": "tomorrow"}`},
		{"a date without a time", `{"now": "2026-06-11"}`},
		{"no zone", `{"now": "2026-06-11T22:59:00"}`},
		{"impossible date", `{"now": "2026-02-30T10:00:00Z"}`},
		// Well-formed, but past the API's 1 MiB bound on bodies.
		{"too large", strings.Repeat(" ", 2<<20) + `{"now": "2030-01-01T00:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServer(t)
			status, ct, body := f.do(t, http.MethodPut, "/clock", tt.body)
			wantError(t, status, ct, body)
			// The clock is as it was: t0 and running.
			if d := f.clock.Now().Sub(t0); d < 0 || d > margin {
				t.Errorf("after a refused PUT the clock reads %v, want still near %v", f.clock.Now(), t0)
			}
		})
	}
}

func TestWrongMethod(t *testing.T) {
	tests := []struct {
		method, path string
		allowed      string // a method the Allow header must name
	}{
		{http.MethodPost, "/healthz", http.MethodGet},
		{http.MethodDelete, "/journal", http.MethodGet},
		{http.MethodPost, "/journal", http.MethodGet},
		{http.MethodGet, "/reset", http.MethodPost},
		{http.MethodPut, "/reset", http.MethodPost},
		{http.MethodPost, "/clock", http.MethodPut},
		{http.MethodDelete, "/clock", http.MethodGet},
		{http.MethodPatch, "/clock", http.MethodPut},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			f := newServer(t)
			req, err := http.NewRequest(tt.method, f.srv.URL+tt.path, strings.NewReader(`{"now": "2030-01-01T00:00:00Z"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", resp.StatusCode)
			}
			if allow := resp.Header.Get("Allow"); !strings.Contains(allow, tt.allowed) {
				t.Errorf("Allow %q, want it to name %s", allow, tt.allowed)
			}
			if n := f.resets.Load(); n != 0 {
				t.Errorf("Reset was called %d times", n)
			}
			if d := f.clock.Now().Sub(t0); d < 0 || d > margin {
				t.Errorf("the clock moved to %v", f.clock.Now())
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	f := newServer(t)
	// Without a Describe, there is no detail view: /journal/{seq} is unknown too.
	for _, p := range []string{"/journals", "/clock/now", "/health", "/console/", "/console/index.html", "/index.html", "/journal/1"} {
		if status, _, _ := f.do(t, http.MethodGet, p, ""); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, status)
		}
	}
}

// PUT /clock can also set an offset from real time, advance, and freeze.
func TestPutClockOffsetAdvanceFreeze(t *testing.T) {
	f := newServer(t)
	do := func(body string) {
		t.Helper()
		if status, _, out := f.do(t, http.MethodPut, "/clock", body); status != http.StatusOK {
			t.Fatalf("PUT /clock %s: status %d, body %s", body, status, out)
		}
	}
	do(`{"offset": "-2h"}`)
	if d := time.Until(f.clock.Now()); d > -2*time.Hour+time.Minute || d < -2*time.Hour-time.Minute {
		t.Fatalf("after offset -2h the clock is %v from real time", d)
	}
	do(`{"now": "2026-06-11T23:59:58Z", "freeze": true}`)
	do(`{"advance": "3s"}`)
	want := time.Date(2026, 6, 12, 0, 0, 1, 0, time.UTC)
	if got := f.clock.Now(); !got.Equal(want) {
		t.Fatalf("frozen at 23:59:58 and advanced 3s, the clock reads %v, want %v", got, want)
	}
	do(`{"freeze": false}`)
	if f.clock.Frozen() {
		t.Fatal("still frozen after freeze: false")
	}
}
