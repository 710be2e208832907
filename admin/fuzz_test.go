package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/metrics"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/terminal"
)

// The fuzz targets drive the whole admin API in process, as a client could:
// any method, target (path and query) and body. Whatever arrives, the API
// must not panic, must not answer a client's mistake with a 5xx, must send
// well-formed JSON whenever it says the body is JSON (an error as
// {"error": ...}), and must leave its state (clock, scenarios, journal) in a
// shape it can still report.

// fuzzToken is the admin token of FuzzAdminToken's API.
const fuzzToken = "s3cret-token"

// fuzzHost is what each fuzz input is served by: fresh state (journal,
// clock, engine) every time, so that an input fails or passes on its own;
// only the scenario library, slow to build, is shared (inputs may add to it,
// as PUT /scenario does).
type fuzzHost struct {
	lib  *scenarios.Library
	d    *dialect.Dialect
	sale []byte // a sale request's frame in d
}

func newFuzzHost(t testing.TB, dn string) fuzzHost {
	t.Helper()
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	d, err := fixtures.Dialect(dn)
	if err != nil {
		t.Fatal(err)
	}
	return fuzzHost{lib: lib, d: d, sale: fuzzSale(t, d)}
}

// handler is the API over a journal holding a day's exchanges: a sign-on, a
// sale with its frame (frame, when given, instead), a decline, a reversal,
// garbage that never became a request, and a settlement; entry i is at t0 +
// i minutes (Seq i+1).
func (fh fuzzHost) handler(token string, frame ...byte) http.Handler {
	j := journal.New(100)
	m := metrics.New(j, func() int { return 1 })
	if len(frame) == 0 {
		frame = fh.sale
	}
	for i, e := range []journal.Entry{
		{MTI: "0800", Txn: "signon", STAN: "000001", TID: "TERM0001", MID: "898100012340001", RC: "00"},
		{MTI: "0200", RespMTI: "0210", Txn: "sale", STAN: "000002", TID: "TERM0001", MID: "898100012340001",
			RRN: "000000000001", Amount: 1234, PAN: "476173******0010", RC: "00", Request: string(frame)},
		{MTI: "0200", RespMTI: "0210", Txn: "sale", STAN: "000003", TID: "TERM0002", MID: "898100012340002", RC: "51"},
		{MTI: "0400", RespMTI: "0410", Txn: "reversal", STAN: "000002", TID: "TERM0001", MID: "898100012340001", RC: "00"},
		{Error: "message type indicator does not decode", Request: "\x00\x01garbage\xff"},
		{MTI: "0500", RespMTI: "0510", Txn: "settlement", STAN: "000004", TID: "TERM0001", MID: "898100012340001", RC: "95"},
	} {
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		e.Dialect, e.Conn = fh.d.Name, "127.0.0.1:40000"
		j.Append(e)
	}
	api := &admin.API{
		Journal: j, Clock: clock.New(t0), Reset: j.Reset, ResetTerminal: func(string) {},
		Books: testBooks, Engine: scenarios.NewEngine(approver{}, 1, time.UTC), Library: fh.lib,
		Describe: fh.d.Describe, Metrics: m.Handler(), Token: token,
		AllowHosts: []string{"acqsim.test"}, // the Host every fuzzed request names
	}
	return api.Handler()
}

// fuzzSale is a sale request in d, card data and all, as the journal keeps
// its frames.
func fuzzSale(t testing.TB, d *dialect.Dialect) []byte {
	m := iso8583.NewMessage(d.Spec)
	m.MTI("0200")
	c := terminal.DefaultCard
	for id, v := range map[int]string{2: c.PAN, 3: "000000", 4: "000000001234", 11: "000002", 14: c.Expiry,
		22: "021", 25: "00", 35: c.Track2, 41: "TERM0001", 42: "898100012340001", 49: d.Currency} {
		if err := m.Field(id, v); err != nil {
			t.Fatal(err)
		}
	}
	var pre []byte
	if d.Preamble > 0 {
		m.Field(60, "22000001")
		pre = []byte{0x60, 0x00, 0x03, 0x00, 0x00, 0x60, 0x31, 0x00, 0x00, 0x00, 0x00}
	}
	packed, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(pre, packed...)
}

// serve parses a request as the HTTP server would (an input it refuses
// never reaches the API: ok is false) and serves it. Its context is already
// done, so that GET /journal/stream answers and returns instead of
// following the journal.
func serve(h http.Handler, method, target string, header http.Header, body []byte) (rec *httptest.ResponseRecorder, req *http.Request, ok bool) {
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: acqsim.test\r\n", method, target)
	header.Write(&raw)
	fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
	raw.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = req.WithContext(ctx)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, req, true
}

// checkAnswer applies what every answer must be.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d (%s) for a client's request", what, rec.Code, body)
	}
	if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		if !json.Valid(body) {
			t.Fatalf("%s: status %d, Content-Type %s, body is not JSON: %q", what, rec.Code, ct, body)
		}
		if rec.Code >= 400 {
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf(`%s: status %d, body %s; want {"error": REASON}`, what, rec.Code, body)
			}
		}
	}
}

// stillReportable checks that the state a request left can still be read.
func stillReportable(t *testing.T, h http.Handler, after string) {
	t.Helper()
	for _, target := range []string{"/clock", "/journal", "/scenarios", "/verify?min=1", "/settlements", "/batches"} {
		rec, _, ok := serve(h, "GET", target, nil, nil)
		if !ok {
			t.Fatalf("GET %s does not parse", target)
		}
		checkAnswer(t, "GET "+target+" after "+after, rec)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s after %s: status %d (%s)", target, after, rec.Code, rec.Body.Bytes())
		}
	}
}

// adminSeeds are realistic calls: the README's examples and each
// endpoint's parameters, right and wrong.
var adminSeeds = []struct{ method, target, body string }{
	{"GET", "/healthz", ""},
	{"GET", "/", ""},
	{"HEAD", "/", ""},
	{"GET", "/console/console.js", ""},
	{"GET", "/console/nothing.js", ""},
	{"GET", "/openapi.yaml", ""},
	{"GET", "/metrics", ""},
	{"GET", "/journal", ""},
	{"GET", "/journal?tid=TERM0001&txn=sale&limit=5", ""},
	{"GET", "/journal?after=2&limit=2", ""},
	{"GET", "/journal?since=2026-06-11T23:00:00Z&until=2026-06-11T23:03:00.5%2B08:00&rc=00", ""},
	{"GET", "/journal?since=yesterday", ""},
	{"GET", "/journal?limit=-1", ""},
	{"GET", "/journal?after=x", ""},
	{"GET", "/journal/2", ""},
	{"GET", "/journal/5", ""},
	{"GET", "/journal/999", ""},
	{"GET", "/journal/abc", ""},
	{"GET", "/journal/18446744073709551616", ""},
	{"GET", "/journal/stream?tid=TERM0001", ""},
	{"GET", "/journal/stream?until=never", ""},
	{"GET", "/verify?tid=TERM0001&stan=000002&txn=reversal&min=1", ""},
	{"GET", "/verify?count=2&max=3&mid=898100012340001", ""},
	{"GET", "/verify?count=-1", ""},
	{"GET", "/verify?min=99999999999999999999", ""},
	{"GET", "/verify/sequence?tid=TERM0001&txn=signon,sale", ""},
	{"GET", "/verify/sequence?tid=TERM0001&txn=sale", ""},
	{"GET", "/verify/sequence?tid=TERM0001&txn=signon,,sale", ""},
	{"POST", "/reset", ""},
	{"POST", "/reset?tid=TERM0001", ""},
	{"GET", "/clock", ""},
	{"PUT", "/clock", `{"now": "2026-06-11T23:59:58+08:00", "freeze": true}`},
	{"PUT", "/clock", `{"offset": "-2h"}`},
	{"PUT", "/clock", `{"advance": "90s"}`},
	{"PUT", "/clock", `{"freeze": false}`},
	{"PUT", "/clock", `{"now": "2026-06-11T22:59:00Z", "offset": "1h", "advance": "-30m", "freeze": true}`},
	{"PUT", "/clock", `{"now": "tomorrow"}`},
	{"PUT", "/clock", `{"advance": "forever"}`},
	{"PUT", "/clock", `{}`},
	{"PUT", "/clock", `{"freeze": true} {"freeze": false}`},
	{"PUT", "/clock", `{"tick": "1s"}`},
	{"PUT", "/clock", `[1, 2]`},
	{"PUT", "/clock", ``},
	{"GET", "/scenarios", ""},
	{"GET", "/scenarios/timeout", ""},
	{"GET", "/scenarios/no-such-thing", ""},
	{"PUT", "/scenario", `{"name": "timeout"}`},
	{"PUT", "/scenario", `{"name": "no-such-thing"}`},
	{"PUT", "/scenario", `{"name": 7}`},
	{"PUT", "/scenario", "name: fuzzed\nrules:\n  - match: txn == \"sale\" && amount > 1000\n    respond: {rc: \"51\"}\n"},
	{"PUT", "/scenario", "name: fuzzed\nrules:\n  - match: amout > 1\n"},
	{"PUT", "/scenario", "rules: [unclosed\n"},
	{"DELETE", "/scenario", ""},
	{"PUT", "/terminals/TERM0001/scenario", `{"name": "insufficient-funds"}`},
	{"PUT", "/terminals/TERM%2F0001/scenario", `{"name": "timeout"}`},
	{"DELETE", "/terminals/TERM0001/scenario", ""},
	{"GET", "/settlements?mid=898100012340001&date=2026-06-12&format=csv", ""},
	{"GET", "/settlements?mode=T0", ""},
	{"GET", "/batches?state=open&tid=TERM0002", ""},
	{"GET", "/batches?format=csv", ""},
	{"PATCH", "/clock", `{"advance": "1s"}`},
	{"OPTIONS", "*", ""},
	{"GET", "/journal/../clock", ""},
	{"GET", "http://acqsim.test/healthz", ""},
}

// FuzzAdminRequest: any request to the API, then the calls that report the
// state it left.
func FuzzAdminRequest(f *testing.F) {
	for _, s := range adminSeeds {
		f.Add(s.method, s.target, []byte(s.body), false)
	}
	// Every built-in scenario, loaded as a new one and bound to a terminal.
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no embedded scenarios: %v", err)
	}
	for i, name := range files {
		raw, err := fixtures.Scenarios.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		target := "/scenario"
		if i%2 == 1 {
			target = "/terminals/TERM0001/scenario"
		}
		f.Add("PUT", target, raw, i%3 == 0)
	}
	hosts := []fuzzHost{newFuzzHost(f, "iso87ascii"), newFuzzHost(f, "cup")}
	f.Fuzz(func(t *testing.T, method, target string, body []byte, cup bool) {
		fh := hosts[0]
		if cup {
			fh = hosts[1]
		}
		began := time.Now()
		h := fh.handler("")
		header := http.Header{"Content-Type": {"application/json"}}
		rec, req, ok := serve(h, method, target, header, body)
		if !ok {
			return // the HTTP server would have refused it before the API
		}
		what := fmt.Sprintf("%s %s %.200q", method, target, body)
		if req.Method == "PUT" && req.URL.Path == "/clock" && rec.Code == http.StatusOK && !checkClock(t, what, body, rec, began) {
			t.Fatalf("%s: accepted a time the clock cannot hold", what)
		}
		checkAnswer(t, what, rec)
		if req.Method != "GET" && req.Method != "HEAD" && rec.Code < 300 {
			stillReportable(t, h, what) // the request changed something
		}
	})
}

// clockRange is how far from real time the virtual clock can be set.
const clockRange = clock.MaxSkew

// checkClock checks an accepted PUT /clock: the clock reads what the body
// asked for, the keys combined as the README says (now, or offset from real
// time, then advance), give or take margin. The API was built (its clock at
// t0) at began. It reports whether that is a time the clock can hold; when
// not, the answer is not checked.
func checkClock(t *testing.T, what string, body []byte, rec *httptest.ResponseRecorder, began time.Time) (holdable bool) {
	t.Helper()
	var b struct {
		Now, Offset, Advance *string
		Freeze               *bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		t.Fatalf("%s: accepted a body that is not one clock object", what)
	}
	want := t0.Add(time.Since(began))
	if b.Now != nil {
		want, _ = time.Parse(time.RFC3339Nano, *b.Now)
	}
	if b.Offset != nil {
		d, _ := time.ParseDuration(*b.Offset)
		want = time.Now().Add(d)
	}
	if b.Advance != nil {
		d, _ := time.ParseDuration(*b.Advance)
		want = want.Add(d)
	}
	if away := want.Sub(time.Now()); want.Year() < 1 || want.Year() > 9999 || away >= clockRange+margin || away <= -clockRange-margin {
		return false
	}
	if away := want.Sub(time.Now()); away >= clockRange-margin || away <= -clockRange+margin {
		return true // too near the edge to tell which side it was on
	}
	var got struct{ Now time.Time }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%s: answer %q: %v", what, rec.Body.Bytes(), err)
	}
	if d := got.Now.Sub(want); d > margin || d < -margin {
		t.Fatalf("%s: the clock reads %s, want %s", what, got.Now, want)
	}
	return true
}

// TestPutClockOutOfRange: PUT /clock refuses (400) a time more than a
// century from real time, whole (nothing in the call is applied), and the
// clock's state can still be reported after. (It once kept the offset in a
// time.Duration that saturated or wrapped, and a frozen clock could pass
// year 9999, which JSON cannot carry: a 200 with an empty body followed.)
func TestPutClockOutOfRange(t *testing.T) {
	fh := newFuzzHost(t, "iso87ascii")
	for _, body := range []string{
		`{"now": "9999-12-31T23:59:59Z", "freeze": true, "advance": "1h"}`,
		`{"now": "0000-01-01T00:00:00Z", "freeze": true, "advance": "-1h"}`,
		`{"now": "9999-12-31T23:59:59Z"}`,
		`{"now": "1000-01-01T00:00:00Z"}`,
		`{"offset": "2562047h", "advance": "2562047h"}`,
		`{"advance": "-2562047h"}`,
	} {
		t.Run(body, func(t *testing.T) {
			began := time.Now()
			h := fh.handler("")
			rec, _, ok := serve(h, "PUT", "/clock", nil, []byte(body))
			if !ok {
				t.Fatal("PUT /clock does not parse")
			}
			if rec.Code == http.StatusOK && !checkClock(t, body, []byte(body), rec, began) {
				t.Errorf("accepted (200 %q), but the clock cannot hold that time; want 400", rec.Body.Bytes())
			} else if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Errorf("status %d (%s), want 400 or 200", rec.Code, rec.Body.Bytes())
			}
			checkAnswer(t, "PUT /clock "+body, rec)
			stillReportable(t, h, "PUT /clock "+body)
		})
	}
}

// FuzzAdminToken: with a token, nothing but the console's own files is
// served to a request that does not carry it, whatever its method, target
// and Authorization header; and a request that carries it is never refused.
func FuzzAdminToken(f *testing.F) {
	for _, s := range adminSeeds {
		f.Add(s.method, s.target, "Bearer "+fuzzToken)
		f.Add(s.method, s.target, "")
	}
	for _, auth := range []string{"bearer " + fuzzToken, "Bearer  " + fuzzToken + " ", "Basic " + fuzzToken, fuzzToken,
		"Bearer " + fuzzToken + "x", "Bearer", "Bearer " + strings.ToUpper(fuzzToken)} {
		f.Add("GET", "/journal", auth)
	}
	f.Add("GET", "/journal/stream?access_token="+fuzzToken, "")
	f.Add("GET", "/journal/stream?access_token=wrong", "")
	f.Add("HEAD", "/journal/stream?access_token="+fuzzToken, "")
	f.Add("GET", "/journal?access_token="+fuzzToken, "")
	f.Add("GET", "/?token="+fuzzToken, "")
	f.Add("GET", "/console/../journal", "")
	f.Add("GET", "//journal", "")
	fh := newFuzzHost(f, "iso87ascii")
	f.Fuzz(func(t *testing.T, method, target, auth string) {
		h := fh.handler(fuzzToken)
		header := http.Header{}
		if auth != "" {
			header.Set("Authorization", auth)
		}
		rec, req, ok := serve(h, method, target, header, nil)
		if !ok {
			return
		}
		what := fmt.Sprintf("%s %s with Authorization %q", method, target, req.Header.Get("Authorization"))
		checkAnswer(t, what, rec)
		switch {
		case !strings.EqualFold(req.Host, "acqsim.test") && rec.Code == http.StatusForbidden:
			// An absolute-form target naming another host: the Host check
			// comes before the token's.
		case holdsToken(req):
			if rec.Code == http.StatusUnauthorized {
				t.Fatalf("%s: 401 with the token", what)
			}
		case consoleFile(req):
			if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && rec.Code < 300 {
				t.Fatalf("%s: no token, and served JSON: %s", what, rec.Body.Bytes())
			}
		default:
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("%s: no token, answered %d (%.200s); want 401 with WWW-Authenticate", what, rec.Code, rec.Body.Bytes())
			}
		}
	})
}

// holdsToken is the README's rule, written out again: "Authorization:
// Bearer TOKEN" (the scheme in any case), or for GET /journal/stream alone,
// ?access_token=TOKEN when there is no Authorization header.
func holdsToken(r *http.Request) bool {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		return ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(token) == fuzzToken
	}
	return r.Method == "GET" && r.URL.Path == "/journal/stream" && r.URL.Query().Get("access_token") == fuzzToken
}

// consoleFile reports the console's own files, served without a token.
func consoleFile(r *http.Request) bool {
	return (r.Method == "GET" || r.Method == "HEAD") &&
		(r.URL.Path == "/" || r.URL.Path == "/console/console.js" || r.URL.Path == "/console/console.css")
}

// FuzzJournalDetail: whatever bytes a terminal sent and the journal kept
// (garbage is journalled with its frame), GET /journal/{seq} shows them: a
// 200 with the frame field by field where it decodes, and every byte of it
// in the hex, masked or not.
func FuzzJournalDetail(f *testing.F) {
	hosts := []fuzzHost{newFuzzHost(f, "iso87ascii"), newFuzzHost(f, "cup")}
	for i, fh := range hosts {
		sale := fh.sale
		f.Add(sale, i == 1)
		f.Add(sale[:len(sale)/2], i == 1)
		f.Add(slices.Concat(sale, []byte{0xFF, 0x00}), i == 1)
	}
	f.Add([]byte("0200"), false)
	f.Add([]byte("0200ZZZZZZZZZZZZZZZZ"), false)
	f.Add([]byte("\x60\x00\x03\x00\x00\x60\x31\x00\x00\x00\x00\x02\x00\x80"), true)
	f.Add([]byte("\x00"), true)
	f.Fuzz(func(t *testing.T, frame []byte, cup bool) {
		if len(frame) == 0 {
			return // not a frame: the journal keeps "" for none
		}
		fh := hosts[0]
		if cup {
			fh = hosts[1]
		}
		h := fh.handler("", frame...)
		rec, _, ok := serve(h, "GET", "/journal/2", nil, nil)
		if !ok {
			t.Fatal("GET /journal/2 does not parse")
		}
		checkAnswer(t, fmt.Sprintf("GET /journal/2 of frame %X", frame), rec)
		if rec.Code != http.StatusOK {
			t.Fatalf("frame %X: status %d (%s), want 200", frame, rec.Code, rec.Body.Bytes())
		}
		var got exchangeBody
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("frame %X: %v", frame, err)
		}
		if got.Request == nil || len(got.Request.Hex) != 2*len(frame) {
			t.Fatalf("frame of %d bytes: detail %+v; want every byte in the hex", len(frame), got.Request)
		}
	})
}
