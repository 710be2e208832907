package admin

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// Verified is GET /verify's answer: how many exchanges a filter selects,
// against what was asked.
type Verified struct {
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
	Entries []VerifiedEntry `json:"entries"`
	// Omitted is how many earlier exchanges Count includes and Entries
	// leaves out.
	Omitted int `json:"entries_omitted,omitempty"`
}

// VerifiedEntry is one exchange of a Verified, with its original when it
// has one.
type VerifiedEntry struct {
	journal.Entry
	// OriginalSeq is the seq of the exchange this one refers back to (0 for
	// none).
	OriginalSeq uint64 `json:"original_seq,omitempty"`
	// AfterOriginalMS is how many milliseconds after its original this one
	// came; nil when it has none.
	AfterOriginalMS *int64 `json:"after_original_ms,omitempty"`
}

// Want is what a verify asks of a count: exactly Count, at least Min, at
// most Max; a nil bound is not asked. The zero Want asks nothing, and any
// count is then OK.
type Want struct {
	Count, Min, Max *int
}

// Exactly wants a count of n.
func Exactly(n int) Want { return Want{Count: &n} }

// Match returns the exchanges f selects in j, oldest first, each once: an
// exchange whose response could not be written (or was never sent) has a
// second entry saying so, which is left out. It is what every verify
// counts: GET /verify, acqsimtest's Verify and Count, and acqsim verify
// through the API.
func Match(j *journal.Journal, f journal.Filter) []journal.Entry {
	return exchanges(j.Query(f))
}

// Verify counts the exchanges f selects in j (Match) against want, in the
// manner of WireMock's verification, keyed on ISO 8583 fields, and finds
// each one's original: what GET /verify answers.
func Verify(j *journal.Journal, f journal.Filter, want Want) Verified {
	got := Match(j, f)
	out := Verified{OK: true, Count: len(got)}
	var asked []string
	if want.Count != nil {
		out.OK = out.OK && len(got) == *want.Count
		asked = append(asked, "exactly "+strconv.Itoa(*want.Count))
	}
	if want.Min != nil {
		out.OK = out.OK && len(got) >= *want.Min
		asked = append(asked, "at least "+strconv.Itoa(*want.Min))
	}
	if want.Max != nil {
		out.OK = out.OK && len(got) <= *want.Max
		asked = append(asked, "at most "+strconv.Itoa(*want.Max))
	}
	out.Expected = strings.Join(asked, " and ")
	if len(got) > MaxJournalLimit {
		out.Omitted = len(got) - MaxJournalLimit
		got = got[out.Omitted:]
	}
	out.Entries = make([]VerifiedEntry, 0, len(got))
	// The terminal's whole journal is read only when an exchange refers
	// back to an earlier one.
	var all []journal.Entry
	for _, e := range got {
		ve := VerifiedEntry{Entry: e}
		if all == nil && refersBack(e) {
			all = Match(j, journal.Filter{TID: f.TID})
		}
		if orig := originalOf(e, all); orig != nil {
			ms := e.Time.Sub(orig.Time).Milliseconds()
			ve.OriginalSeq, ve.AfterOriginalMS = orig.Seq, &ms
		}
		out.Entries = append(out.Entries, ve)
	}
	return out
}

// verify answers GET /verify: how many exchanges a filter (the parameters of
// GET /journal) selects, checked against count=N, or min=N and max=N:
//
//	GET /verify?tid=T0000001&stan=000042&txn=reversal&min=1
func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	var want Want
	for _, b := range []struct {
		name string
		dst  **int
	}{{"count", &want.Count}, {"min", &want.Min}, {"max", &want.Max}} {
		name, dst := b.name, b.dst
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, (&badParam{name}).Error())
			return
		}
		*dst = &n
	}
	writeJSON(w, http.StatusOK, Verify(a.Journal, f, want))
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

// Sequence is GET /verify/sequence's answer: whether a terminal's first
// exchange of each listed kind came in that order.
type Sequence struct {
	OK    bool           `json:"ok"`
	Steps []SequenceStep `json:"steps"`
}

// SequenceStep is one kind of a Sequence and the terminal's first exchange
// of it: Seq 0 and no Time when it sent none.
type SequenceStep struct {
	Txn  string     `json:"txn"`
	Seq  uint64     `json:"seq,omitempty"`
	Time *time.Time `json:"time,omitempty"`
}

// VerifySequence finds terminal tid's first exchange of each of kinds in j
// and whether they came in that order: what GET /verify/sequence answers.
func VerifySequence(j *journal.Journal, tid string, kinds []string) Sequence {
	entries := Match(j, journal.Filter{TID: tid})
	var out Sequence
	for _, k := range kinds {
		st := SequenceStep{Txn: k}
		for i := range entries {
			if entries[i].Txn == k {
				st.Seq, st.Time = entries[i].Seq, &entries[i].Time
				break
			}
		}
		out.Steps = append(out.Steps, st)
	}
	at, _ := out.Break()
	out.OK = at < 0
	return out
}

// Break says where a sequence fails: at is the first step that never came
// or that came before an earlier step, the one at index before (-1 for a
// step that never came); at is -1 when the sequence holds.
func (s Sequence) Break() (at, before int) {
	latest := -1
	for i, st := range s.Steps {
		if st.Seq == 0 {
			return i, -1
		}
		if latest >= 0 && st.Seq < s.Steps[latest].Seq {
			return i, latest
		}
		latest = i
	}
	return -1, -1
}

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
	writeJSON(w, http.StatusOK, VerifySequence(a.Journal, tid, kinds))
}
