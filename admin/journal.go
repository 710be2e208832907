package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// A page of GET /journal holds DefaultJournalLimit entries when the call
// names no limit, and at most MaxJournalLimit: a reader of the whole ring
// follows the pages, so that no one answer is the ring's tens of megabytes.
const (
	DefaultJournalLimit = 1000
	MaxJournalLimit     = 10_000
)

// journal answers GET /journal with a page of the entries a filter selects,
// oldest first: ?tid=&mid=&stan=&rrn=&mti=&txn=&rc=&scenario=&rule=&since=&until=.
// ?after=SEQ&limit=N is the first N after that entry, limit alone the latest
// N, and neither the first page from the oldest entry held (limit 0 or none
// is DefaultJournalLimit; over MaxJournalLimit is a 400). A page that leaves
// out entries the filter selects says so in a "Journal-Truncated: true"
// header; a page from a cursor then has a Link header to the next one
// (rel="next", RFC 8288), and the latest N to the first page (rel="first").
// Following next until a page has none gives every entry once.
func (a *API) journal(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	limit, latest := DefaultJournalLimit, false
	if f.Limit > MaxJournalLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(
			"limit: want at most %d entries a page; for more, follow the pages (the Link header's next)", MaxJournalLimit))
		return
	}
	if f.Limit > 0 {
		limit, latest = f.Limit, !f.Paged
	}
	// One entry more than the page says whether the page left any out.
	f.Limit, f.Paged = limit+1, !latest
	page := a.Journal.Query(f)
	if len(page) > limit {
		w.Header().Set("Journal-Truncated", "true")
		link := url.Values{}
		for k, v := range q {
			link[k] = v
		}
		link.Set("limit", strconv.Itoa(limit))
		if latest {
			page = page[1:]
			link.Set("after", "0")
			w.Header().Set("Link", `</journal?`+link.Encode()+`>; rel="first"`)
		} else {
			page = page[:limit]
			link.Set("after", strconv.FormatUint(page[limit-1].Seq, 10))
			w.Header().Set("Link", `</journal?`+link.Encode()+`>; rel="next"`)
		}
	}
	writeJSON(w, http.StatusOK, page)
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

// FilterQuery is f as the parameters of GET /journal, /journal/stream and
// /verify: what filterOf reads back.
func FilterQuery(f journal.Filter) url.Values {
	q := params(map[string]string{
		"tid": f.TID, "mid": f.MID, "stan": f.STAN, "rrn": f.RRN,
		"mti": f.MTI, "txn": f.Txn, "rc": f.RC, "scenario": f.Scenario, "rule": f.Rule,
	})
	for name, t := range map[string]time.Time{"since": f.Since, "until": f.Until} {
		if !t.IsZero() {
			q.Set(name, t.Format(time.RFC3339Nano))
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Paged || f.After > 0 {
		q.Set("after", strconv.FormatUint(f.After, 10))
	}
	return q
}

// params are the values that are set, as query parameters.
func params(m map[string]string) url.Values {
	q := url.Values{}
	for k, v := range m {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}
