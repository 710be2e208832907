package bench

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram records latencies in whole microseconds with three significant
// digits, up to an hour, in constant memory however many samples it takes:
// a load generator that kept every sample to sort them would grow with the
// run and spend its time in the garbage collector. The maximum and the mean
// are kept exactly beside it. The zero value is not usable; see NewHistogram.
type Histogram struct {
	h     *hdrhistogram.Histogram
	max   time.Duration
	sum   time.Duration
	count int64
}

// highestMicros is the longest latency a histogram tells apart; longer ones
// are counted as this long (the exact maximum is kept apart).
const highestMicros = int64(time.Hour / time.Microsecond)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(1, highestMicros, 3)}
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := min(int64(d/time.Microsecond), highestMicros)
	_ = h.h.RecordValue(us) // in range by construction
	h.count++
	h.sum += d
	h.max = max(h.max, d)
}

// Merge adds every latency o holds.
func (h *Histogram) Merge(o *Histogram) {
	h.h.Merge(o.h)
	h.count += o.count
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Reset empties the histogram.
func (h *Histogram) Reset() {
	h.h.Reset()
	h.count, h.sum, h.max = 0, 0, 0
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() int64 { return h.count }

// Percentile returns the latency below or at which p percent (0-100] of the
// recorded ones lie, in microseconds, to three significant digits; 0 when
// nothing was recorded.
func (h *Histogram) Percentile(p float64) int64 {
	if h.count == 0 {
		return 0
	}
	return h.h.ValueAtQuantile(p)
}

// Max is the longest latency recorded.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the mean latency.
func (h *Histogram) Mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return h.sum / time.Duration(h.count)
}

// micros rounds a duration to tenths of a microsecond, for reports.
func micros(d time.Duration) float64 {
	return math.Round(float64(d)/100) / 10
}
