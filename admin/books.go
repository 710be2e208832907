package admin

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/report"
)

// Books is where the settlement endpoints read the host's books.
type Books interface {
	Records() []books.Record
	Batches() []books.Batch
}

// The values the books hold, which is what the report filters may ask for:
// a filter for anything else could only ever match nothing, so it is
// refused rather than answered with an empty report.
var (
	// settlementModes are the settlement terms a record carries (txn.Terms.Mode).
	settlementModes = []string{"T0", "T1"}
	// batchStates are the states settlement moves a batch through.
	batchStates = []string{books.BatchOpen, books.BatchReconciling, books.BatchUploaded, books.BatchClosed}
	// reportFormats are what a report can be written as.
	reportFormats = []string{"json", "csv"}
)

// checkReport refuses a report query whose filter no entry can match, so
// that a typing slip is not answered with an empty report: a value outside
// the set its parameter takes (enums), or for settlements a date that is no
// day of the calendar.
func checkReport(q url.Values, enums map[string][]string) error {
	for _, name := range slices.Sorted(maps.Keys(enums)) {
		if v := q.Get(name); v != "" && !slices.Contains(enums[name], v) {
			return fmt.Errorf("%s %.40q: want %s", name, v, strings.Join(enums[name], " or "))
		}
	}
	return nil
}

// checkDate refuses a settlement date that is not a day as YYYY-MM-DD.
func checkDate(q url.Values) error {
	if v := q.Get("date"); v != "" {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return fmt.Errorf("date %.40q: want a settlement date as YYYY-MM-DD, such as 2026-06-12", v)
		}
	}
	return nil
}

// settlements answers GET /settlements?mid=&date=YYYY-MM-DD&mode=&format=csv.
func (a *API) settlements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	err := checkDate(q)
	if err == nil {
		err = checkReport(q, map[string][]string{"mode": settlementModes, "format": reportFormats})
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ss := report.Settlements(a.Books.Records(), a.Books.Batches(), report.Filter{MID: q.Get("mid"), Date: q.Get("date"), Mode: q.Get("mode")})
	if q.Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		report.WriteSettlementsCSV(w, ss)
		return
	}
	writeJSON(w, http.StatusOK, ss)
}

// batches answers GET /batches?mid=&tid=&state=&format=csv.
func (a *API) batches(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkReport(q, map[string][]string{"state": batchStates, "format": reportFormats}); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := BatchFilter{MID: q.Get("mid"), TID: q.Get("tid"), State: q.Get("state"), Batch: q.Get("batch")}
	var out []books.Batch
	for _, b := range a.Books.Batches() {
		if f.Match(b) {
			out = append(out, b)
		}
	}
	if q.Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		report.WriteBatchesCSV(w, out)
		return
	}
	if out == nil {
		out = []books.Batch{}
	}
	writeJSON(w, http.StatusOK, out)
}

// BatchFilter selects batches, as GET /batches?mid=&tid=&state=&batch=
// does: each field that is set must match.
type BatchFilter struct {
	MID, TID, State, Batch string
}

// Match reports whether f selects b.
func (f BatchFilter) Match(b books.Batch) bool {
	return (f.MID == "" || f.MID == b.MID) && (f.TID == "" || f.TID == b.TID) &&
		(f.State == "" || f.State == b.State) && (f.Batch == "" || f.Batch == b.Batch)
}

// query is f as GET /batches's parameters.
func (f BatchFilter) query() url.Values {
	return params(map[string]string{"mid": f.MID, "tid": f.TID, "state": f.State, "batch": f.Batch})
}

// settlementQuery is f as GET /settlements's parameters.
func settlementQuery(f report.Filter) url.Values {
	return params(map[string]string{"mid": f.MID, "date": f.Date, "mode": f.Mode})
}
