package metrics_test

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/metrics"
)

// A scrape over loopback describes the Go runtime and the process, as
// operators watch them (issue 13).
func TestRuntimeAndProcess(t *testing.T) {
	url := serve(t, metrics.New(journal.New(100), func() int { return 0 }))
	got := scrape(t, url)
	if g := got["go_goroutines"]; g < 1 {
		t.Errorf("go_goroutines = %v, want the goroutines running (%d now)", g, runtime.NumGoroutine())
	}
	if _, ok := got["go_memstats_heap_alloc_bytes"]; !ok {
		t.Error("no go_memstats_heap_alloc_bytes")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("process_* come from /proc; %s has no /proc", runtime.GOOS)
	}
	for _, name := range []string{"process_resident_memory_bytes", "process_open_fds", "process_max_fds"} {
		if v := got[name]; v <= 0 {
			t.Errorf("%s = %v, want it above 0", name, v)
		}
	}
	if open, limit := got["process_open_fds"], got["process_max_fds"]; open > limit {
		t.Errorf("process_open_fds %v above process_max_fds %v", open, limit)
	}
}

// Refused connections are read from the source at every scrape, by reason
// from a closed set; none are exported before a source is given.
func TestRefusals(t *testing.T) {
	m := metrics.New(journal.New(100), func() int { return 0 })
	url := serve(t, m)
	if s := series(scrape(t, url), "acqsim_refused_connections_total"); len(s) != 0 {
		t.Errorf("refusals exported without a source: %v", s)
	}

	var mu sync.Mutex
	counts := map[string]uint64{metrics.RefusedMaxConnections: 3}
	m.CountRefusals(func() map[string]uint64 {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]uint64{}
		for k, v := range counts {
			out[k] = v
		}
		return out
	})
	want := func(maxConns, fds, scripted, other int) string {
		return `
# HELP acqsim_refused_connections_total Terminal connections the host refused, by reason.
# TYPE acqsim_refused_connections_total counter
acqsim_refused_connections_total{reason="descriptors"} ` + strconv.Itoa(fds) + `
acqsim_refused_connections_total{reason="max-connections"} ` + strconv.Itoa(maxConns) + `
acqsim_refused_connections_total{reason="other"} ` + strconv.Itoa(other) + `
acqsim_refused_connections_total{reason="refuse"} ` + strconv.Itoa(scripted) + `
`
	}
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want(3, 0, 0, 0)), "acqsim_refused_connections_total"); err != nil {
		t.Error(err)
	}

	mu.Lock()
	counts[metrics.RefusedMaxConnections] = 5
	counts[metrics.RefusedDescriptors] = 2
	counts[metrics.RefusedScripted] = 7
	counts["TERM0001 refused at 10:00"] = 1 // never a label
	counts["tls"] = 4
	mu.Unlock()
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want(5, 2, 7, 5)), "acqsim_refused_connections_total"); err != nil {
		t.Error(err)
	}
}
