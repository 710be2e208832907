package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// journal answers GET /journal with the entries a filter selects, oldest
// first: ?tid=&mid=&stan=&rrn=&mti=&txn=&rc=&scenario=&rule=&since=&until=,
// and pages of them: ?after=SEQ&limit=N gives the first N after that entry,
// limit alone the latest N.
func (a *API) journal(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a.Journal.Query(f))
}

// filterOf reads a journal filter from the query string.
func filterOf(r *http.Request) (journal.Filter, error) {
	q := r.URL.Query()
	f := journal.Filter{
		TID: q.Get("tid"), MID: q.Get("mid"), STAN: q.Get("stan"), RRN: q.Get("rrn"),
		MTI: q.Get("mti"), Txn: q.Get("txn"), RC: q.Get("rc"),
		Scenario: q.Get("scenario"), Rule: q.Get("rule"),
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, fmt.Errorf("%s: want an RFC 3339 time", name)
			}
			*dst = t
		}
	}
	for name, dst := range map[string]*int{"limit": &f.Limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return f, fmt.Errorf("%s: want a non-negative integer", name)
			}
			*dst = n
		}
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, fmt.Errorf("after: want an entry's seq")
		}
		f.After, f.Paged = n, true
	}
	return f, nil
}
