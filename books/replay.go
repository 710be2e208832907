package books

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// event is one decision as a durable journal keeps it: the request (card
// numbers masked, its fingerprint a hash), the host's time, what a scenario
// forced, and the RRN the host gave. Replaying the events in order rebuilds
// the books: batches, totals, voids, reversals, duplicates.
type event struct {
	// Reset, when set, is a reset of the host's state (all of it, or one
	// terminal's when Request.TID is set) rather than a decision.
	Reset   bool        `json:"reset,omitempty"`
	Request txn.Request `json:"request"`
	Now     time.Time   `json:"now"`
	Force   *forced     `json:"force,omitempty"`
	RRN     string      `json:"rrn,omitempty"`
}

type forced struct {
	RC           string `json:"rc"`
	OutOfBalance bool   `json:"out_of_balance,omitempty"`
}

// recorded attaches the decision's event when the host keeps events.
func (h *Host) recorded(r *txn.Request, now time.Time, f *forced, d txn.Decision) txn.Decision {
	if !h.cfg.Events || r.Type == txn.Echo || r.Type == txn.Unknown || d.Cached {
		return d
	}
	ev := event{Request: *r, Now: now, Force: f, RRN: d.RRN}
	ev.Request.PAN = txn.MaskPAN(r.PAN)
	ev.Request.Uploads = append([]txn.UploadRecord(nil), r.Uploads...)
	for i := range ev.Request.Uploads {
		ev.Request.Uploads[i].PAN = txn.MaskPAN(ev.Request.Uploads[i].PAN)
	}
	raw, err := json.Marshal(ev)
	if err == nil {
		d.Replay = raw
	}
	return d
}

// Replay applies a recorded decision again, to rebuild the books from a
// durable journal: the same request at the same time gets the same answer,
// with the same RRN.
func (h *Host) Replay(raw []byte) error {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("replaying a journal event: %w", err)
	}
	if ev.Reset {
		if ev.Request.TID != "" {
			h.ResetTerminal(ev.Request.TID)
		} else {
			h.Reset()
		}
		return nil
	}
	var rrn uint64
	if ev.RRN != "" {
		n, err := strconv.ParseUint(ev.RRN, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("replaying a journal event: RRN %q", ev.RRN)
		}
		rrn = n
	}
	// The decision draws this very RRN (a reversal draws none: the one
	// recorded is its original's); later decisions go on after the highest
	// one given so far. A decision recorded without one draws none, or its
	// record would take the RRN the host gave the next transaction (journals
	// written before declines had RRNs hold such declines).
	highest := h.rrn.Load()
	if rrn > 0 {
		h.rrn.Store(rrn - 1)
	} else {
		h.unnumbered.Store(true)
		defer h.unnumbered.Store(false)
	}
	if ev.Force != nil {
		h.force(&ev.Request, ev.Now, ev.Force.RC, ev.Force.OutOfBalance)
	} else {
		h.decide(&ev.Request, ev.Now)
	}
	h.rrn.Store(max(highest, rrn, h.rrn.Load()))
	return nil
}

// ResetEvent is the event that records a reset (of one terminal when tid is
// set), so that a replay forgets what the host forgot.
func ResetEvent(tid string) []byte {
	raw, _ := json.Marshal(event{Reset: true, Request: txn.Request{TID: tid}})
	return raw
}
