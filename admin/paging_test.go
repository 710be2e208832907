package admin_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
)

// page is one answer of GET /journal: its entries and its paging headers.
type page struct {
	entries   []journal.Entry
	next      string // the Link header's rel="next" target, resolved; "" for none
	first     string // rel="first"
	truncated bool
}

var linkRel = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="([a-z]+)"`)

// getPage GETs target (a path or a URL) and wants a 200.
func (h *liveHost) getPage(t *testing.T, target string) page {
	t.Helper()
	u, err := url.Parse(h.base)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	abs := u.ResolveReference(ref)
	resp := h.request(t, http.MethodGet, abs.RequestURI(), "", "")
	defer resp.Body.Close()
	var p page
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", target, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	decode(t, body, &p.entries)
	p.truncated = resp.Header.Get("Journal-Truncated") == "true"
	for _, m := range linkRel.FindAllStringSubmatch(resp.Header.Get("Link"), -1) {
		l, err := url.Parse(m[1])
		if err != nil {
			t.Fatalf("Link %q: %v", m[1], err)
		}
		switch m[2] {
		case "next":
			p.next = abs.ResolveReference(l).String()
		case "first":
			p.first = abs.ResolveReference(l).String()
		}
	}
	return p
}

// follow reads pages from target by their next links until one has none.
func (h *liveHost) follow(t *testing.T, target string) (all []journal.Entry, pages int) {
	t.Helper()
	for target != "" {
		if pages++; pages > 1000 {
			t.Fatal("the pages do not end")
		}
		p := h.getPage(t, target)
		if (p.next != "") != p.truncated {
			t.Errorf("page %d: next %q but truncated %v: a page with a next page is cut, and only it", pages, p.next, p.truncated)
		}
		all = append(all, p.entries...)
		target = p.next
	}
	return all, pages
}

// fillJournal appends n entries: TID T1 every third one, T2 the others;
// entry i (from 1) has STAN i.
func fillJournal(h *liveHost, n int) {
	for i := 1; i <= n; i++ {
		tid := "T2"
		if i%3 == 0 {
			tid = "T1"
		}
		h.sim.Journal.Append(journal.Entry{TID: tid, Txn: "sale", STAN: fmt.Sprintf("%06d", i)})
	}
}

func TestJournalPaging(t *testing.T) {
	h := startLive(t, "")
	empty := h.getPage(t, "/journal")
	if len(empty.entries) != 0 || empty.next != "" || empty.truncated {
		t.Errorf("an empty journal: %d entries, next %q, truncated %v; want [] alone", len(empty.entries), empty.next, empty.truncated)
	}

	const n = 12_345
	fillJournal(h, n)
	all := h.sim.Journal.Query(journal.Filter{})
	if len(all) != n {
		t.Fatalf("the journal holds %d entries, want %d", len(all), n)
	}

	t.Run("no parameters: the first page", func(t *testing.T) {
		p := h.getPage(t, "/journal")
		if len(p.entries) != admin.DefaultJournalLimit || !slices.Equal(seqs(p.entries), seqs(all[:admin.DefaultJournalLimit])) {
			t.Fatalf("GET /journal: %d entries, want the oldest %d", len(p.entries), admin.DefaultJournalLimit)
		}
		want := fmt.Sprintf("%s/journal?after=%d&limit=%d", h.base, all[admin.DefaultJournalLimit-1].Seq, admin.DefaultJournalLimit)
		if !p.truncated || p.next != want {
			t.Errorf("truncated %v, next %q; want true and %q", p.truncated, p.next, want)
		}
	})

	t.Run("following next gives every entry once", func(t *testing.T) {
		got, pages := h.follow(t, "/journal")
		if !slices.Equal(seqs(got), seqs(all)) {
			t.Errorf("followed %d entries, want the %d held, each once, in order", len(got), len(all))
		}
		if want := (n + admin.DefaultJournalLimit - 1) / admin.DefaultJournalLimit; pages != want {
			t.Errorf("%d pages, want %d", pages, want)
		}
	})

	t.Run("the maximum", func(t *testing.T) {
		p := h.getPage(t, "/journal?limit="+strconv.Itoa(admin.MaxJournalLimit))
		if len(p.entries) != admin.MaxJournalLimit || !p.truncated {
			t.Errorf("limit=%d: %d entries, truncated %v", admin.MaxJournalLimit, len(p.entries), p.truncated)
		}
		got, _ := h.follow(t, "/journal?after=0&limit="+strconv.Itoa(admin.MaxJournalLimit))
		if !slices.Equal(seqs(got), seqs(all)) {
			t.Errorf("pages of %d: %d entries, want each of the %d once", admin.MaxJournalLimit, len(got), len(all))
		}
		for _, q := range []string{"limit=" + strconv.Itoa(admin.MaxJournalLimit+1), "limit=-1", "after=5&limit=1000000"} {
			status, body := h.call(t, http.MethodGet, "/journal?"+q, "")
			if status != http.StatusBadRequest || !regexp.MustCompile(`"error": ".*limit`).Match(body) {
				t.Errorf("GET /journal?%s: status %d, body %s; want 400 naming the limit", q, status, body)
			}
		}
	})

	t.Run("limit 0 is the default page", func(t *testing.T) {
		p := h.getPage(t, "/journal?limit=0&tid=T2")
		if len(p.entries) != admin.DefaultJournalLimit || p.entries[0].Seq != 1 || !p.truncated ||
			p.next != fmt.Sprintf("%s/journal?after=%d&limit=%d&tid=T2", h.base, p.entries[len(p.entries)-1].Seq, admin.DefaultJournalLimit) {
			t.Errorf("limit=0: %d entries from %d, truncated %v, next %q; want the first page", len(p.entries), p.entries[0].Seq, p.truncated, p.next)
		}
	})

	t.Run("limit alone: the latest", func(t *testing.T) {
		p := h.getPage(t, "/journal?limit=5&tid=T1")
		var t1 []journal.Entry
		for _, e := range all {
			if e.TID == "T1" {
				t1 = append(t1, e)
			}
		}
		if !slices.Equal(seqs(p.entries), seqs(t1[len(t1)-5:])) {
			t.Errorf("limit=5&tid=T1: seqs %v, want T1's latest five %v", seqs(p.entries), seqs(t1[len(t1)-5:]))
		}
		if !p.truncated || p.next != "" || p.first != h.base+"/journal?after=0&limit=5&tid=T1" {
			t.Errorf("truncated %v, next %q, first %q; want a cut page that links to the first", p.truncated, p.next, p.first)
		}
		all := h.getPage(t, "/journal?limit=10000&tid=T1")
		if all.truncated || all.first != "" || len(all.entries) != len(t1) {
			t.Errorf("the latest 10000 of T1's %d: %d entries, truncated %v, first %q", len(t1), len(all.entries), all.truncated, all.first)
		}
	})

	t.Run("filters with paging", func(t *testing.T) {
		var want []journal.Entry
		for _, e := range all {
			if e.TID == "T1" && e.Seq > 100 {
				want = append(want, e)
			}
		}
		got, pages := h.follow(t, "/journal?tid=T1&txn=sale&after=100&limit=333")
		if !slices.Equal(seqs(got), seqs(want)) {
			t.Errorf("T1 after 100 in pages of 333: %d entries, want %d, each once", len(got), len(want))
		}
		if pages != (len(want)+332)/333 {
			t.Errorf("%d pages for %d entries, want %d", pages, len(want), (len(want)+332)/333)
		}
		for _, e := range got {
			if e.TID != "T1" {
				t.Fatalf("entry %d of %s in T1's pages: a next link lost the filter", e.Seq, e.TID)
			}
		}
	})

	t.Run("a last page exactly full has no next", func(t *testing.T) {
		p := h.getPage(t, fmt.Sprintf("/journal?after=%d&limit=1000", all[n-1001].Seq))
		if len(p.entries) != 1000 || p.next != "" || p.truncated {
			t.Errorf("the last 1000 from a cursor: %d entries, next %q, truncated %v; want 1000 and no next", len(p.entries), p.next, p.truncated)
		}
	})
}

// GET /verify counts every exchange but lists, like a page, at most
// MaxJournalLimit of them: the latest.
func TestVerifyListsAPage(t *testing.T) {
	h := startLive(t, "")
	const n = admin.MaxJournalLimit + 345
	fillJournal(h, n)
	var got struct {
		OK      bool              `json:"ok"`
		Count   int               `json:"count"`
		Entries []json.RawMessage `json:"entries"`
		Omitted int               `json:"entries_omitted"`
	}
	h.getJSON(t, "/verify?txn=sale&count="+strconv.Itoa(n), &got)
	var last journal.Entry
	if len(got.Entries) > 0 {
		json.Unmarshal(got.Entries[len(got.Entries)-1], &last)
	}
	if !got.OK || got.Count != n || len(got.Entries) != admin.MaxJournalLimit || got.Omitted != 345 || last.Seq != n {
		t.Errorf("verify of %d: ok %v, count %d, %d entries (the last %d), %d omitted; want all counted, the latest %d listed",
			n, got.OK, got.Count, len(got.Entries), last.Seq, got.Omitted, admin.MaxJournalLimit)
	}
}
