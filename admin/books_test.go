package admin_test

import (
	"encoding/csv"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/report"
	"github.com/acqsim/acqsim/txn"
)

// fixedBooks is a fixed set of books: what the settlement endpoints read.
type fixedBooks struct {
	records []books.Record
	batches []books.Batch
}

var _ admin.Books = fixedBooks{}

func (b fixedBooks) Records() []books.Record { return b.records }
func (b fixedBooks) Batches() []books.Batch  { return b.batches }

const (
	midA = "898100012340001"
	midB = "898100012340002"
)

var (
	june11 = time.Date(2026, 6, 11, 0, 0, 0, 0, time.UTC)
	june12 = time.Date(2026, 6, 12, 0, 0, 0, 0, time.UTC)
	june15 = time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
)

func t1(day time.Time, cardType string, fee int64, faults ...string) txn.Terms {
	return txn.Terms{Mode: "T1", Settlement: day, FundsAt: day.Add(9 * time.Hour), CardType: cardType, Fee: fee, Faults: faults}
}

// testBooks: merchant A settles T1 on 12 June (a debit and a credit sale, a
// refund; a voided and a declined sale that carry nothing) and 15 June (a
// sale with a books fault); merchant B settles T0 on 11 June.
var testBooks = fixedBooks{
	records: []books.Record{
		{MID: midA, TID: "TERM0001", Batch: "000001", Type: txn.Sale, State: "approved", STAN: "000001", Amount: 10_000, Currency: "156", Terms: t1(june12, "debit", 50)},
		{MID: midA, TID: "TERM0001", Batch: "000001", Type: txn.Sale, State: "approved", STAN: "000002", Amount: 20_000, Currency: "156", Terms: t1(june12, "credit", 120)},
		{MID: midA, TID: "TERM0001", Batch: "000001", Type: txn.Refund, State: "approved", STAN: "000003", Amount: 5_000, Currency: "156", Terms: t1(june12, "credit", 0)},
		{MID: midA, TID: "TERM0001", Batch: "000001", Type: txn.Sale, State: "voided", STAN: "000004", Amount: 7_000, Currency: "156", Terms: t1(june12, "debit", 35)},
		{MID: midA, TID: "TERM0002", Batch: "000001", Type: txn.Sale, State: "declined", STAN: "000001", Amount: 9_000, Currency: "156"},
		{MID: midA, TID: "TERM0002", Batch: "000003", Type: txn.Sale, State: "approved", STAN: "000002", Amount: 1_000_000, Currency: "156", Terms: t1(june15, "debit", 5000, "fee-no-cap")},
		{MID: midB, TID: "TERM0003", Batch: "000001", Type: txn.Sale, State: "approved", STAN: "000001", Amount: 40_000, Currency: "156",
			Terms: txn.Terms{Mode: "T0", Settlement: june11, FundsAt: june11.Add(10 * time.Hour), CardType: "credit", Fee: 240}},
	},
	batches: []books.Batch{
		{MID: midA, TID: "TERM0001", Batch: "000001", State: books.BatchClosed, Outcome: "balanced",
			Host:    txn.Totals{DebitCount: 2, DebitAmount: 30_000, CreditCount: 1, CreditAmount: 5_000},
			Claimed: &txn.Totals{DebitCount: 2, DebitAmount: 30_000, CreditCount: 1, CreditAmount: 5_000}},
		{MID: midA, TID: "TERM0002", Batch: "000001", State: books.BatchClosed, Outcome: "out of balance",
			Claimed: &txn.Totals{DebitCount: 1, DebitAmount: 9_000}, Uploaded: 1,
			Differences: []string{"STAN 000001: uploaded, not in the host's record"}},
		{MID: midA, TID: "TERM0002", Batch: "000003", State: books.BatchOpen,
			Host: txn.Totals{DebitCount: 1, DebitAmount: 1_000_000}},
		{MID: midB, TID: "TERM0003", Batch: "000001", State: books.BatchReconciling, Outcome: "balanced",
			Host:    txn.Totals{DebitCount: 1, DebitAmount: 40_000},
			Claimed: &txn.Totals{DebitCount: 1, DebitAmount: 40_000}},
	},
}

// newBooksServer serves the API over the test books on a loopback listener.
func newBooksServer(t *testing.T, b admin.Books) fixture {
	t.Helper()
	f := fixture{clock: clock.New(t0)}
	api := &admin.API{Journal: journal.New(10), Clock: f.clock, Reset: func() {}, Books: b}
	f.srv = httptest.NewServer(api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// get sends a GET and checks it was answered 200.
func (f fixture) get(t *testing.T, path string, q url.Values) (contentType string, body []byte) {
	t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	status, ct, body := f.do(t, http.MethodGet, path, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %s", path, status, body)
	}
	return ct, body
}

func TestSettlementsFilters(t *testing.T) {
	f := newBooksServer(t, testBooks)
	all := []string{midA + " 2026-06-12 T1", midA + " 2026-06-15 T1", midB + " 2026-06-11 T0"}
	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string // mid, date and mode of each settlement, in order
	}{
		{"everything", nil, all},
		{"mid", url.Values{"mid": {midA}}, all[:2]},
		{"date", url.Values{"date": {"2026-06-12"}}, all[:1]},
		{"mode", url.Values{"mode": {"T0"}}, all[2:]},
		{"mid and date", url.Values{"mid": {midA}, "date": {"2026-06-15"}}, all[1:2]},
		{"mid and mode, none", url.Values{"mid": {midA}, "mode": {"T0"}}, nil},
		{"a day without settlements", url.Values{"date": {"2026-06-13"}}, nil},
		{"an unknown merchant", url.Values{"mid": {"999999999999999"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := f.get(t, "/settlements", tc.query)
			wantJSON(t, ct)
			var ss []report.Settlement
			decode(t, body, &ss)
			var got []string
			for _, s := range ss {
				got = append(got, s.MID+" "+s.SettlementDate+" "+s.Mode)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if tc.want == nil && strings.TrimSpace(string(body)) != "[]" {
				t.Errorf("body %s, want an empty list, []", body)
			}
		})
	}
}

// TestSettlementsJSON pins the report's shape: its keys, the figures by card
// type and in total, the batches, the faults; what carries nothing is left out.
func TestSettlementsJSON(t *testing.T) {
	f := newBooksServer(t, testBooks)
	_, body := f.get(t, "/settlements", url.Values{"mid": {midA}})
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 2 {
		t.Fatalf("body %s: %v; want two settlements", body, err)
	}
	keys := []string{"mid", "settlement_date", "mode", "currency", "funds_available", "count", "gross", "fees", "net", "by_card_type", "batches"}
	for i, withFaults := range []bool{false, true} {
		want := keys
		if withFaults {
			want = append(slices.Clone(keys), "faults")
		}
		if got := slices.Sorted(maps.Keys(raw[i])); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("settlement %d has keys %v, want %v", i+1, got, want)
		}
	}

	var ss []report.Settlement
	decode(t, body, &ss)
	june := ss[0]
	if june.Currency != "156" || !june.FundsAvailable.Equal(june12.Add(9*time.Hour)) {
		t.Errorf("12 June: currency %q, funds available %v; want 156 at 09:00", june.Currency, june.FundsAvailable)
	}
	// The voided and the declined sale carry nothing; the refund is a credit.
	if want := (report.Figures{Count: 3, Gross: 25_000, Fees: 170, Net: 24_830}); june.Figures != want {
		t.Errorf("12 June totals %+v, want %+v", june.Figures, want)
	}
	for typ, want := range map[string]report.Figures{
		"debit":  {Count: 1, Gross: 10_000, Fees: 50, Net: 9_950},
		"credit": {Count: 2, Gross: 15_000, Fees: 120, Net: 14_880},
	} {
		if got := june.ByCardType[typ]; got == nil || *got != want {
			t.Errorf("12 June, %s cards: %+v, want %+v", typ, got, want)
		}
	}
	if want := []report.BatchOutcome{{TID: "TERM0001", Batch: "000001", State: "closed", Outcome: "balanced"}}; !slices.Equal(june.Batches, want) {
		t.Errorf("12 June batches %+v, want %+v", june.Batches, want)
	}
	if later := ss[1]; !slices.Equal(later.Faults, []string{"fee-no-cap"}) || later.Fees != 5000 ||
		!slices.Equal(later.Batches, []report.BatchOutcome{{TID: "TERM0002", Batch: "000003", State: "open"}}) {
		t.Errorf("15 June: %+v, want the fee-no-cap sale in the open batch 000003", later)
	}
}

func TestSettlementsCSV(t *testing.T) {
	f := newBooksServer(t, testBooks)
	header := []string{"mid", "settlement_date", "mode", "currency", "card_type", "count", "gross", "fees", "net", "funds_available", "batches", "faults"}
	for _, tc := range []struct {
		name  string
		query url.Values
		want  [][]string
	}{
		{"one merchant's day", url.Values{"mid": {midA}, "date": {"2026-06-12"}}, [][]string{
			{midA, "2026-06-12", "T1", "156", "credit", "2", "150.00", "1.20", "148.80", "2026-06-12T09:00:00Z", "TERM0001/000001:closed:balanced", ""},
			{midA, "2026-06-12", "T1", "156", "debit", "1", "100.00", "0.50", "99.50", "2026-06-12T09:00:00Z", "TERM0001/000001:closed:balanced", ""},
			{midA, "2026-06-12", "T1", "156", "total", "3", "250.00", "1.70", "248.30", "2026-06-12T09:00:00Z", "TERM0001/000001:closed:balanced", ""},
		}},
		{"a fault, an open batch", url.Values{"date": {"2026-06-15"}}, [][]string{
			{midA, "2026-06-15", "T1", "156", "debit", "1", "10000.00", "50.00", "9950.00", "2026-06-15T09:00:00Z", "TERM0002/000003:open", "fee-no-cap"},
			{midA, "2026-06-15", "T1", "156", "total", "1", "10000.00", "50.00", "9950.00", "2026-06-15T09:00:00Z", "TERM0002/000003:open", "fee-no-cap"},
		}},
		{"nothing", url.Values{"mid": {midB}, "mode": {"T1"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"format": {"csv"}}
			maps.Copy(q, tc.query)
			ct, body := f.get(t, "/settlements", q)
			if !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("Content-Type %q, want text/csv", ct)
			}
			rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
			if err != nil || len(rows) == 0 {
				t.Fatalf("body %q: %v; want CSV with a header row", body, err)
			}
			if !slices.Equal(rows[0], header) {
				t.Errorf("header %v, want %v", rows[0], header)
			}
			if !slices.EqualFunc(rows[1:], tc.want, slices.Equal) {
				t.Errorf("rows:\n%q\nwant:\n%q", rows[1:], tc.want)
			}
		})
	}
}

func TestBatchesFilters(t *testing.T) {
	f := newBooksServer(t, testBooks)
	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string // mid/tid/batch of each
	}{
		{"everything", nil, []string{midA + "/TERM0001/000001", midA + "/TERM0002/000001", midA + "/TERM0002/000003", midB + "/TERM0003/000001"}},
		{"mid", url.Values{"mid": {midB}}, []string{midB + "/TERM0003/000001"}},
		{"tid", url.Values{"tid": {"TERM0002"}}, []string{midA + "/TERM0002/000001", midA + "/TERM0002/000003"}},
		{"state", url.Values{"state": {"closed"}}, []string{midA + "/TERM0001/000001", midA + "/TERM0002/000001"}},
		{"batch", url.Values{"batch": {"000003"}}, []string{midA + "/TERM0002/000003"}},
		{"tid and state", url.Values{"tid": {"TERM0002"}, "state": {"open"}}, []string{midA + "/TERM0002/000003"}},
		{"none", url.Values{"state": {"uploaded"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := f.get(t, "/batches", tc.query)
			wantJSON(t, ct)
			var bs []books.Batch
			decode(t, body, &bs)
			var got []string
			for _, b := range bs {
				got = append(got, b.MID+"/"+b.TID+"/"+b.Batch)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if tc.want == nil && strings.TrimSpace(string(body)) != "[]" {
				t.Errorf("body %s, want an empty list, []", body)
			}
		})
	}
}

// TestBatchesJSON pins the batch's shape: a batch the terminal has not
// settled has no outcome, terminal totals or differences.
func TestBatchesJSON(t *testing.T) {
	f := newBooksServer(t, testBooks)
	_, body := f.get(t, "/batches", url.Values{"tid": {"TERM0002"}})
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 2 {
		t.Fatalf("body %s: %v; want two batches", body, err)
	}
	settled := []string{"mid", "tid", "batch", "state", "outcome", "host_totals", "terminal_totals", "uploaded", "differences"}
	open := []string{"mid", "tid", "batch", "state", "host_totals", "uploaded"}
	for i, want := range [][]string{settled, open} {
		if got := slices.Sorted(maps.Keys(raw[i])); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("batch %d has keys %v, want %v", i+1, got, want)
		}
	}
	var bs []books.Batch
	decode(t, body, &bs)
	if !slices.Equal(bs[0].Differences, testBooks.batches[1].Differences) || bs[0].Uploaded != 1 || *bs[0].Claimed != *testBooks.batches[1].Claimed {
		t.Errorf("out-of-balance batch %+v, want it as the books have it", bs[0])
	}
	if bs[1].Host != testBooks.batches[2].Host {
		t.Errorf("open batch host totals %+v, want %+v", bs[1].Host, testBooks.batches[2].Host)
	}
}

func TestBatchesCSV(t *testing.T) {
	f := newBooksServer(t, testBooks)
	ct, body := f.get(t, "/batches", url.Values{"mid": {midA}, "format": {"csv"}})
	if !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q, want text/csv", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	want := [][]string{
		{"mid", "tid", "batch", "state", "outcome", "host_debits", "host_debit_amount", "host_credits", "host_credit_amount",
			"terminal_debits", "terminal_debit_amount", "terminal_credits", "terminal_credit_amount", "uploaded", "differences"},
		{midA, "TERM0001", "000001", "closed", "balanced", "2", "300.00", "1", "50.00", "2", "300.00", "1", "50.00", "0", ""},
		{midA, "TERM0002", "000001", "closed", "out of balance", "0", "0.00", "0", "0.00", "1", "90.00", "0", "0.00", "1", "STAN 000001: uploaded, not in the host's record"},
		{midA, "TERM0002", "000003", "open", "", "1", "10000.00", "0", "0.00", "", "", "", "", "0", ""},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("rows:\n%q\nwant:\n%q", rows, want)
	}

	// A filter that matches nothing still gives the header.
	_, body = f.get(t, "/batches", url.Values{"state": {"uploaded"}, "format": {"csv"}})
	if rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll(); err != nil || len(rows) != 1 || !slices.Equal(rows[0], want[0]) {
		t.Errorf("no batches as CSV: %q (%v), want the header row alone", body, err)
	}
}

// TestBooksRoutes: without books there are no settlement endpoints; with
// them, they answer GET only.
func TestBooksRoutes(t *testing.T) {
	none := newBooksServer(t, nil)
	for _, path := range []string{"/settlements", "/batches"} {
		if status, _, body := none.do(t, http.MethodGet, path, ""); status != http.StatusNotFound {
			t.Errorf("GET %s without books: status %d, want 404; body %s", path, status, body)
		}
	}
	f := newBooksServer(t, testBooks)
	for _, path := range []string{"/settlements", "/batches"} {
		if status, _, body := f.do(t, http.MethodPost, path, ""); status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: status %d, want 405; body %s", path, status, body)
		}
	}
}

// TestSettlementsCSVNegative: a day of refunds whose fees are given back
// owes the merchant's money back: negative figures keep their sign and cents.
func TestSettlementsCSVNegative(t *testing.T) {
	// A refund whose fee is given back (fees: { refund: returned }).
	refund := books.Record{MID: midA, TID: "TERM0001", Batch: "000001", Type: txn.Refund, State: "approved", STAN: "000001",
		Amount: 5_005, Currency: "156", Terms: t1(june12, "credit", -30)}
	f := newBooksServer(t, fixedBooks{records: []books.Record{refund}})
	_, body := f.get(t, "/settlements", url.Values{"format": {"csv"}})
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("body %q: %v; want the header, the credit row and the total", body, err)
	}
	if got, want := rows[2][4:9], []string{"total", "1", "-50.05", "-0.30", "-49.75"}; !slices.Equal(got, want) {
		t.Errorf("total row figures %q, want %q", got, want)
	}
}

// TestBooksBadFilter: a filter no entry of the books could match is refused
// (400, naming what it takes), not answered with an empty report: a date that
// is no day of the calendar, a mode, state or format the books do not know.
func TestBooksBadFilter(t *testing.T) {
	f := newBooksServer(t, testBooks)
	for _, tc := range []struct {
		path string
		want string // in the error
	}{
		{"/settlements?date=2026-13-45", "YYYY-MM-DD"},
		{"/settlements?date=2026-02-30", "YYYY-MM-DD"},
		{"/settlements?date=2026-6-12", "YYYY-MM-DD"},
		{"/settlements?date=12%2F06%2F2026", "YYYY-MM-DD"},
		{"/settlements?mode=T2", "T0 or T1"},
		{"/settlements?mode=t1", "T0 or T1"},
		{"/settlements?format=xml", "json or csv"},
		{"/settlements?format=CSV", "json or csv"},
		{"/batches?format=xml", "json or csv"},
		{"/batches?state=settled", "open or reconciling or uploaded or closed"},
		{"/batches?state=Open&format=csv", "open or reconciling or uploaded or closed"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, ct, body := f.do(t, http.MethodGet, tc.path, "")
			wantError(t, status, ct, body)
			if !strings.Contains(string(body), tc.want) {
				t.Errorf("error %s does not say %q", body, tc.want)
			}
		})
	}
	// What the books know is still answered, in either format.
	for _, path := range []string{"/settlements?date=2026-06-12&mode=T1&format=json", "/settlements?format=csv",
		"/batches?state=reconciling&format=json", "/batches?state=closed&format=csv"} {
		if status, _, body := f.do(t, http.MethodGet, path, ""); status != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200; body %s", path, status, body)
		}
	}
}
