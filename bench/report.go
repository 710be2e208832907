package bench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Result is what a run measured; the warm-up is left out. Its JSON form is
// the `acqsim bench -o json` output, and its keys are kept stable.
type Result struct {
	Addr        string `json:"addr"`
	Dialect     string `json:"dialect"`
	Connections int    `json:"connections"`
	Pipeline    int    `json:"pipeline"`
	// Mode is "closed" (the next request when a response frees a place) or
	// "open" (requests at Rate a second, whatever the host answers).
	Mode string  `json:"mode"`
	Rate float64 `json:"rate"`
	Mix  string  `json:"mix"`
	// Chip names the card profile whose chip card the sales and balance
	// enquiries read ("" for a magstripe card); a card that refuses what
	// the host approved counts in ErrorsByKind as card_refused.
	Chip string `json:"chip,omitempty"`
	// DurationS runs from the end of the warm-up to the last response.
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool `json:"interrupted"`
	// TPS is Answered per second of DurationS.
	TPS float64 `json:"tps"`
	Counts
	// ByType has the same figures per transaction type (sale, void,
	// reversal, balance), for the types that were sent.
	ByType map[string]Counts `json:"by_type"`
	// SendLag (open loop) is how late requests left after their due time, in
	// microseconds: the load generator's own share of the latency.
	SendLagP50us float64 `json:"send_lag_p50_us"`
	SendLagP99us float64 `json:"send_lag_p99_us"`
	SendLagMaxUs float64 `json:"send_lag_max_us"`
	// Unmatched counts responses whose STAN matched no request waiting on
	// their connection: late ones, after their request timed out, or strays.
	Unmatched int64 `json:"unmatched"`
	// Reconnects counts connections made again after one broke;
	// ConnectErrors the attempts that failed.
	Reconnects    int64 `json:"reconnects"`
	ConnectErrors int64 `json:"connect_errors"`
	// Settlement is the end phase's outcome, with --settle.
	Settlement *SettleResult `json:"settlement,omitempty"`
}

// Counts are the figures of a set of requests. Sent = Answered + Timeouts +
// Errors once a run is over.
type Counts struct {
	Sent     int64 `json:"sent"`
	Answered int64 `json:"answered"`
	Timeouts int64 `json:"timeouts"`
	// Errors counts requests that got a response that does not answer them
	// (bad_response: undecodable, wrong MTI or terminal ID), were lost with
	// their connection (io), were abandoned by an interruption (cancelled) or
	// could not be built (build).
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	// RC counts answered requests by response code (F39); "none" for
	// responses without one.
	RC map[string]int64 `json:"rc"`
	// Latency of the answered requests, in microseconds: from sending (in an
	// open loop: from the time the request was due) to the response.
	P50us  float64 `json:"p50_us"`
	P90us  float64 `json:"p90_us"`
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
	MeanUs float64 `json:"mean_us"`
}

func (c *Counts) add(ks *kindStats) {
	c.Sent += ks.sent
	c.Answered += ks.answered
	c.Timeouts += ks.timeouts
	for i, n := range ks.errs {
		c.Errors += n
		if n > 0 {
			c.ErrorsByKind[errKindNames[i]] += n
		}
	}
	for rc, n := range ks.rc {
		c.RC[rc] += n
	}
}

func (c *Counts) latency(h *Histogram) {
	c.P50us = float64(h.Percentile(50))
	c.P90us = float64(h.Percentile(90))
	c.P99us = float64(h.Percentile(99))
	c.P999us = float64(h.Percentile(99.9))
	c.MaxUs = micros(h.Max())
	c.MeanUs = micros(h.Mean())
}

func newCounts() Counts {
	return Counts{ErrorsByKind: map[string]int64{}, RC: map[string]int64{}}
}

// result adds up what every connection counted.
func (r *runner) result() *Result {
	cfg := &r.cfg
	res := &Result{
		Addr: cfg.Addr, Dialect: r.d.Name, Connections: cfg.Connections, Pipeline: cfg.Pipeline,
		Mode: "closed", Rate: cfg.Rate, Mix: cfg.Mix.String(), WarmupS: cfg.Warmup.Seconds(),
		Interrupted: r.done.Err() != nil, Counts: newCounts(), ByType: map[string]Counts{},
	}
	if cfg.Rate > 0 {
		res.Mode = "open"
	}
	if cfg.Chip != nil {
		res.Chip = cfg.Chip.Name
	}
	var last time.Time
	var byKind [numKinds]Counts
	for k := range byKind {
		byKind[k] = newCounts()
	}
	for _, c := range r.conns {
		c.mu.Lock()
		for k := range c.kinds {
			byKind[k].add(&c.kinds[k])
			res.Counts.add(&c.kinds[k])
		}
		res.Unmatched += c.unmatched
		res.Reconnects += c.reconnects
		res.ConnectErrors += c.connectErrors
		if c.lastAnswer.After(last) {
			last = c.lastAnswer
		}
		c.mu.Unlock()
	}
	all := NewHistogram()
	for k := range byKind {
		h := NewHistogram()
		for _, s := range r.shards {
			h.Merge(s.lat[k])
		}
		all.Merge(h)
		if byKind[k].Sent > 0 {
			byKind[k].latency(h)
			res.ByType[kindNames[k]] = byKind[k]
		}
	}
	res.Counts.latency(all)
	lag := NewHistogram()
	for _, s := range r.shards {
		lag.Merge(s.lag)
	}
	res.SendLagP50us, res.SendLagP99us, res.SendLagMaxUs = float64(lag.Percentile(50)), float64(lag.Percentile(99)), micros(lag.Max())
	// The measured time runs to the last response; a run for a duration
	// lasts at least that long (or until it was interrupted), answered or not.
	end := last
	if r.cfg.Count == 0 {
		if stop := minTime(r.end, r.stopped); stop.After(end) {
			end = stop
		}
	} else if end.IsZero() {
		end = r.stopped
	}
	if end.After(r.measureFrom) {
		res.DurationS = math.Round(end.Sub(r.measureFrom).Seconds()*1000) / 1000
	}
	if res.DurationS > 0 {
		res.TPS = math.Round(float64(res.Answered)/res.DurationS*10) / 10
	}
	return res
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// WriteText writes the result for people.
func (res *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	loop := "closed loop"
	if res.Mode == "open" {
		loop = fmt.Sprintf("open loop at %g/s", res.Rate)
	}
	card := ""
	if res.Chip != "" {
		card = ", chip card " + res.Chip
	}
	fmt.Fprintf(&b, "acqsim bench %s (%s): %d connection(s), pipeline %d, %s, mix %s%s\n",
		res.Addr, res.Dialect, res.Connections, res.Pipeline, loop, res.Mix, card)
	fmt.Fprintf(&b, "measured   %.3fs after a %gs warm-up", res.DurationS, res.WarmupS)
	if res.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "throughput %.1f tps\n", res.TPS)
	fmt.Fprintf(&b, "requests   sent %d  answered %d  timeouts %d  errors %d%s\n",
		res.Sent, res.Answered, res.Timeouts, res.Errors, kv(" (", res.ErrorsByKind, ")"))
	if res.Unmatched+res.Reconnects+res.ConnectErrors > 0 {
		fmt.Fprintf(&b, "connection unmatched responses %d  reconnects %d  failed connection attempts %d\n",
			res.Unmatched, res.Reconnects, res.ConnectErrors)
	}
	fmt.Fprintf(&b, "latency µs p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.1f  mean %.1f\n",
		res.P50us, res.P90us, res.P99us, res.P999us, res.MaxUs, res.MeanUs)
	if res.Mode == "open" {
		fmt.Fprintf(&b, "send lag µs p50 %.0f  p99 %.0f  max %.1f (how late requests left after their due time: the load generator's share of the latency)\n",
			res.SendLagP50us, res.SendLagP99us, res.SendLagMaxUs)
	}
	fmt.Fprintf(&b, "RC        %s\n", kv(" ", res.RC, ""))
	if len(res.ByType) > 0 {
		fmt.Fprintf(&b, "%-10s %10s %10s %9s %7s %8s %8s  %s\n", "type", "sent", "answered", "timeouts", "errors", "p50 µs", "p99 µs", "RC")
		for _, k := range kindNames {
			c, ok := res.ByType[k]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%-10s %10d %10d %9d %7d %8.0f %8.0f %s\n", k, c.Sent, c.Answered, c.Timeouts, c.Errors, c.P50us, c.P99us, kv(" ", c.RC, ""))
		}
	}
	if s := res.Settlement; s != nil {
		fmt.Fprintf(&b, "settlement %d terminal(s) in %.3fs: %d balanced, %d out of balance (%d record(s) uploaded), %d failed; RC%s\n",
			s.Terminals, s.DurationS, s.Balanced, s.OutOfBalance, s.Uploads, s.Failed, kv(" ", s.RC, ""))
		if s.Oversized > 0 {
			fmt.Fprintf(&b, "  %d batch(es) held more than 999 debits or credits, more than settlement totals can count: out of balance whatever the host booked; use fewer transactions per terminal (--count, more --connections)\n", s.Oversized)
		}
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// kv writes a map as "k=v k=v" in key order between before and after; ""
// when it is empty.
func kv(before string, m map[string]int64, after string) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return before + strings.Join(parts, " ") + after
}
