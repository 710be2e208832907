package admin_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
)

// TestClientHostError: a refused call is a *admin.HostError with the
// status and the host's own answer, a scenario's problems included, not
// text to be read back.
func TestClientHostError(t *testing.T) {
	h := startLive(t, "client-token")
	wrong := &admin.Client{Base: h.base, Token: "not-it"}
	_, _, err := wrong.Clock(t.Context())
	var he *admin.HostError
	if !errors.As(err, &he) || he.Code != http.StatusUnauthorized || !strings.Contains(he.Answer.Error, "token") {
		t.Errorf("a wrong token: %v, want a HostError 401 saying why", err)
	}

	_, _, err = h.client.SetScenario(t.Context(), admin.ScenarioRef{YAML: []byte("name: broken\nrules:\n  - match: txn ==\n")})
	if !errors.As(err, &he) || he.Code != http.StatusBadRequest || len(he.Answer.Problems) == 0 || he.Answer.Problems[0].Line == 0 {
		t.Errorf("a scenario that does not load: %v (%+v), want a HostError 400 with its problems at their lines", err, he)
	}

	// What is not the API's answer (a proxy's page) is given as its text.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>\n  bad   gateway\n"+strings.Repeat("x", 300), http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, _, err = (&admin.Client{Base: proxy.URL}).Clock(t.Context())
	if !errors.As(err, &he) || he.Code != http.StatusBadGateway || !strings.HasPrefix(he.Answer.Error, "<html> bad gateway x") || len(he.Answer.Error) != 203 {
		t.Errorf("a proxy's 502: %v, want its text on one line, cut at 200 bytes", err)
	}

	_, _, err = (&admin.Client{Base: "http://[::1"}).Clock(t.Context())
	var be *admin.BaseError
	if !errors.As(err, &be) || be.Base != "http://[::1" {
		t.Errorf("a base that is no URL: %v, want a BaseError", err)
	}
}

// TestClientJournalPages: JournalPages follows the host's pages until the
// last, every entry once, in order.
func TestClientJournalPages(t *testing.T) {
	h := startLive(t, "")
	fillJournal(h, 25)
	var pages int
	var seqs []uint64
	err := h.client.JournalPages(t.Context(), journal.Filter{Txn: "sale", Paged: true, Limit: 10}, func(p admin.Page) error {
		pages++
		for _, e := range p.Entries {
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	if err != nil || pages != 3 || len(seqs) != 25 {
		t.Fatalf("%d pages, %d entries, %v; want 3 pages of 25 entries", pages, len(seqs), err)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("entries out of order: %v", seqs)
		}
	}
}

// TestClientPagesThatDoNotEnd: a next page that is the page just read is
// an error, not a loop for ever.
func TestClientPagesThatDoNotEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+r.URL.RequestURI()+`>; rel="next"`)
		fmt.Fprint(w, "[]")
	}))
	defer srv.Close()
	calls := 0
	err := (&admin.Client{Base: srv.URL}).JournalPages(t.Context(), journal.Filter{Paged: true, After: 5, Limit: 10}, func(admin.Page) error {
		if calls++; calls > 2 {
			return errors.New("still paging")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "its pages do not end") {
		t.Errorf("a cursor that does not move: %v, want the pages said not to end", err)
	}
}

// TestClientStream: Next reads server-sent events as the host writes them:
// comments passed over, data lines joined, an exchange's entry and a
// dropped event's data decoded, io.EOF at the end.
func TestClientStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": acqsim journal\n\n")
		fmt.Fprint(w, "event: nothing\n\n") // no data: no event
		fmt.Fprint(w, "id: 7\nevent: exchange\ndata: {\"seq\": 7,\ndata:  \"tid\": \"TERM0001\"}\n\n")
		fmt.Fprint(w, ": keep-alive\n\n")
		fmt.Fprint(w, "event: dropped\ndata: {\"reason\": \"behind\", \"last_seq\": 7}\n\n")
	}))
	defer srv.Close()
	s, err := (&admin.Client{Base: srv.URL}).Follow(t.Context(), journal.Filter{TID: "TERM0001", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, err := s.Next()
	if err != nil || ev.Name != "exchange" || ev.Entry == nil || ev.Entry.Seq != 7 || ev.Entry.TID != "TERM0001" {
		t.Fatalf("first event: %+v, %v; want exchange 7 of TERM0001", ev, err)
	}
	ev, err = s.Next()
	if err != nil || ev.Name != "dropped" || ev.Dropped == nil || ev.Dropped.LastSeq != 7 {
		t.Fatalf("second event: %+v, %v; want dropped after 7", ev, err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("after the last event: %v, want io.EOF", err)
	}
}

// TestClientClock: a ClockChange reaches the host as PUT /clock takes it,
// and the answer is the host's clock.
func TestClientClock(t *testing.T) {
	h := startLive(t, "")
	at, offset, frozen := time.Date(2026, 6, 11, 22, 59, 0, 0, time.FixedZone("", 8*3600)), -2*time.Hour, true
	c, raw, err := h.client.SetClock(t.Context(), admin.ClockChange{Now: &at, Freeze: &frozen})
	if err != nil || !c.Now.Equal(at) || !c.Frozen || !strings.Contains(string(raw), `"frozen": true`) {
		t.Fatalf("set and freeze: %+v, %v; want %v frozen (raw %s)", c, err, at, raw)
	}
	if c, _, err = h.client.SetClock(t.Context(), admin.ClockChange{Offset: &offset}); err != nil || c.Offset != "-2h0m0s" {
		t.Errorf("offset -2h: %+v, %v", c, err)
	}
	// A frozen clock's offset from real time grows as real time passes
	// between the calls: its time is what must agree.
	got, _, err := h.client.Clock(t.Context())
	if err != nil || !got.Now.Equal(c.Now) || got.Frozen != c.Frozen {
		t.Errorf("GET /clock: %+v, %v; want what PUT answered, %+v", got, err, c)
	}
}
