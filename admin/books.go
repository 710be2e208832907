package admin

import (
	"net/http"

	"github.com/acqsim/acqsim/acquirer"
	"github.com/acqsim/acqsim/ledger"
)

// Books is where the settlement endpoints read the host's books.
type Books interface {
	Records() []acquirer.Record
	Batches() []acquirer.Batch
}

// settlements answers GET /settlements?mid=&date=YYYY-MM-DD&mode=&format=csv.
func (a *API) settlements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ss := ledger.Settlements(a.Books.Records(), a.Books.Batches(), ledger.Filter{MID: q.Get("mid"), Date: q.Get("date"), Mode: q.Get("mode")})
	if q.Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		ledger.WriteSettlementsCSV(w, ss)
		return
	}
	writeJSON(w, http.StatusOK, ss)
}

// batches answers GET /batches?mid=&tid=&state=&format=csv.
func (a *API) batches(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var out []acquirer.Batch
	for _, b := range a.Books.Batches() {
		if q.Get("mid") != "" && q.Get("mid") != b.MID || q.Get("tid") != "" && q.Get("tid") != b.TID ||
			q.Get("state") != "" && q.Get("state") != b.State || q.Get("batch") != "" && q.Get("batch") != b.Batch {
			continue
		}
		out = append(out, b)
	}
	if q.Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		ledger.WriteBatchesCSV(w, out)
		return
	}
	if out == nil {
		out = []acquirer.Batch{}
	}
	writeJSON(w, http.StatusOK, out)
}
