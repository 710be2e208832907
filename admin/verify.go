package admin

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// verified is an answer of GET /verify.
type verified struct {
	// OK is whether the count is what was asked (count, or min and max);
	// true when nothing was asked.
	OK bool `json:"ok"`
	// Count is how many exchanges the filter selects.
	Count int `json:"count"`
	// Expected says what was asked, in words.
	Expected string `json:"expected,omitempty"`
	// Entries are the exchanges, each with how long after its original it
	// arrived (a reversal, a repeat or a void: the terminal's latest earlier
	// exchange with the same STAN, or the one a void cancelled): the latest
	// MaxJournalLimit of them, as a page of GET /journal is bounded.
	Entries []verifiedEntry `json:"entries"`
	// Omitted is how many earlier exchanges Count includes and Entries
	// leaves out.
	Omitted int `json:"entries_omitted,omitempty"`
}

type verifiedEntry struct {
	journal.Entry
	OriginalSeq     uint64 `json:"original_seq,omitempty"`
	AfterOriginalMS *int64 `json:"after_original_ms,omitempty"`
}

// verify answers GET /verify: how many exchanges a filter (the parameters of
// GET /journal) selects, checked against count=N, or min=N and max=N, in the
// manner of WireMock's verification, keyed on ISO 8583 fields:
//
//	GET /verify?tid=T0000001&stan=000042&txn=reversal&min=1
func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	bound := func(name string) (int, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, false, &badParam{name}
		}
		return n, true, nil
	}
	count, hasCount, err1 := bound("count")
	min, hasMin, err2 := bound("min")
	max, hasMax, err3 := bound("max")
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	got := exchanges(a.Journal.Query(f))
	out := verified{OK: true, Count: len(got)}
	var want []string
	if hasCount {
		out.OK = out.OK && len(got) == count
		want = append(want, "exactly "+strconv.Itoa(count))
	}
	if hasMin {
		out.OK = out.OK && len(got) >= min
		want = append(want, "at least "+strconv.Itoa(min))
	}
	if hasMax {
		out.OK = out.OK && len(got) <= max
		want = append(want, "at most "+strconv.Itoa(max))
	}
	out.Expected = strings.Join(want, " and ")
	if len(got) > MaxJournalLimit {
		out.Omitted = len(got) - MaxJournalLimit
		got = got[out.Omitted:]
	}
	out.Entries = make([]verifiedEntry, 0, len(got))
	// The terminal's whole journal is read only when an exchange refers
	// back to an earlier one.
	var all []journal.Entry
	for _, e := range got {
		ve := verifiedEntry{Entry: e}
		if all == nil && refersBack(e) {
			all = exchanges(a.Journal.Query(journal.Filter{TID: f.TID}))
		}
		if orig := originalOf(e, all); orig != nil {
			ms := e.Time.Sub(orig.Time).Milliseconds()
			ve.OriginalSeq, ve.AfterOriginalMS = orig.Seq, &ms
		}
		out.Entries = append(out.Entries, ve)
	}
	writeJSON(w, http.StatusOK, out)
}

// exchanges leaves out the second entry an exchange gets when its response
// could not be written (or was never sent): each exchange counts once.
func exchanges(es []journal.Entry) []journal.Entry {
	return slices.DeleteFunc(es, func(e journal.Entry) bool { return strings.HasPrefix(e.Error, "writing the response") })
}

// originalOf finds what e refers back to: for a reversal, the financial
// request with its STAN; for a repeat (0221, 0401), its first send (0220,
// 0400); for a void, the exchange it cancelled. Of the terminal's earlier
// exchanges it takes the latest that fits, since trace numbers start again (a
// terminal reset or replaced, STAN 999999 wrapping) and the nearest is the
// one meant.
func originalOf(e journal.Entry, all []journal.Entry) *journal.Entry {
	// An approved void's RRN is its own; the one it named is OrigRRN. A void
	// that named its original by trace number alone (cup F61) has neither,
	// and the host's decision names the original's STAN instead.
	if !refersBack(e) {
		return nil // the others cost no scan
	}
	voidedSTAN, byDecision := strings.CutPrefix(e.Decision, "void of STAN ")
	for i := len(all) - 1; i >= 0; i-- {
		o := &all[i]
		if o.Seq >= e.Seq || o.TID != e.TID || o.MID != e.MID {
			continue
		}
		switch {
		case e.Txn == "void" || e.Txn == "preauth_void":
			named := o.RRN != "" && (o.RRN == e.OrigRRN || o.RRN == e.RRN)
			if voids(e.Txn, o.Txn) && (named || byDecision && o.STAN == voidedSTAN) {
				return o
			}
		case e.Txn == "reversal":
			if e.STAN != "" && o.STAN == e.STAN && isFinancial(o.MTI) && o.Txn != "reversal" && !isRepeat(o.MTI) {
				return o
			}
		case isRepeat(e.MTI):
			if e.STAN != "" && o.STAN == e.STAN && o.MTI == e.MTI[:3]+"0" {
				return o
			}
		}
	}
	return nil
}

// refersBack reports whether e is of a kind that has an original: a void,
// a reversal or a repeat.
func refersBack(e journal.Entry) bool {
	return e.Txn == "void" || e.Txn == "preauth_void" || e.Txn == "reversal" || isRepeat(e.MTI)
}

// voids reports whether a void of kind void can cancel an exchange of kind orig.
func voids(void, orig string) bool {
	if void == "preauth_void" {
		return orig == "preauth"
	}
	return orig == "sale" || orig == "completion" || orig == "advice"
}

func isRepeat(mti string) bool { return len(mti) == 4 && mti[3] == '1' }

// isFinancial reports whether an MTI is an authorisation or a financial
// message (01xx, 02xx): what a reversal can undo.
func isFinancial(mti string) bool { return len(mti) == 4 && (mti[1] == '1' || mti[1] == '2') }

type badParam struct{ name string }

func (e *badParam) Error() string { return e.name + ": want a non-negative integer" }

// verifySequence answers GET /verify/sequence?tid=T&txn=signon,sale: whether
// the terminal's first exchange of each listed kind came in that order (did
// it sign on before its first sale?), and when each came.
func (a *API) verifySequence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tid, kinds := q.Get("tid"), strings.Split(q.Get("txn"), ",")
	if tid == "" || len(kinds) < 2 || slices.Contains(kinds, "") {
		writeError(w, http.StatusBadRequest, "want tid and txn with two or more kinds, e.g. txn=signon,sale")
		return
	}
	type step struct {
		Txn  string     `json:"txn"`
		Seq  uint64     `json:"seq,omitempty"`
		Time *time.Time `json:"time,omitempty"`
	}
	out := struct {
		OK    bool   `json:"ok"`
		Steps []step `json:"steps"`
	}{OK: true}
	entries := a.Journal.Query(journal.Filter{TID: tid})
	var last uint64
	for _, k := range kinds {
		st := step{Txn: k}
		for i := range entries {
			if entries[i].Txn == k {
				st.Seq, st.Time = entries[i].Seq, &entries[i].Time
				break
			}
		}
		if st.Seq == 0 || st.Seq < last {
			out.OK = false
		}
		last = max(last, st.Seq)
		out.Steps = append(out.Steps, st)
	}
	writeJSON(w, http.StatusOK, out)
}
