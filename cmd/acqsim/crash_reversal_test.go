package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/txn"
)

// TestHardKillReversalsInFlight kills the host while terminals have
// reversals and voids outstanding, each stopped at a chosen point: before
// the host saw it, after the host answered it (so journalled it) but before
// the terminal heard, or racing the host. After the restart each terminal
// deals with its unanswered exchange as a real one does (resends the
// reversal; reverses the void, or resends it), then settles: the host's books
// hold every approval a terminal was told of and nothing twice, and every
// batch balances and closes.
func TestHardKillReversalsInFlight(t *testing.T) {
	terms := []struct {
		trig       trigger
		resendVoid bool
	}{
		{trig: trigger{txn.Reversal, 2, beforeHost}},
		{trig: trigger{txn.Reversal, 2, answerLost}},
		{trig: trigger{txn.Reversal, 3, racing}},
		{trig: trigger{txn.Void, 2, beforeHost}},
		{trig: trigger{txn.Void, 2, answerLost}},
		{trig: trigger{txn.Void, 2, beforeHost}, resendVoid: true},
		{trig: trigger{txn.Void, 2, answerLost}, resendVoid: true},
	}
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			d, err := fixtures.Dialect(dn)
			if err != nil {
				t.Fatal(err)
			}
			h := startCrashHost(t, filepath.Join(t.TempDir(), "journal.db"), "--dialect", dn)
			var amount atomic.Int64
			amount.Store(100)
			amounts := func() int64 { return amount.Add(1) }

			cs := make([]*crashTerminal, len(terms))
			taps := make([]*tap, len(terms))
			var wg sync.WaitGroup
			t.Cleanup(wg.Wait) // after the taps' cleanup has hung up on the terminals
			for i, tm := range terms {
				taps[i] = newTap(t, d, h.addr, &tm.trig)
				cs[i] = newCrashTerminal(t, d, taps[i].addr, fmt.Sprintf("REVK%04d", i))
				// One after the other: sign-ons at the same moment can come
				// back from the journal with each other's keys
				// (TestHardKillKeepsWorkingKeys).
				if err := cs[i].signOn(); err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func(c *crashTerminal) {
					defer wg.Done()
					c.work(amounts)
				}(cs[i])
			}
			// The kill lands once every terminal is stopped at its point.
			stopped := doneCh(&wg)
			for i, p := range taps {
				select {
				case <-p.armed:
				case <-stopped:
					t.Fatalf("the terminals stopped before terminal %d reached %v: %v", i, terms[i].trig, failures(cs))
				}
			}
			h.kill(t)
			for _, p := range taps {
				p.cut()
			}
			wg.Wait()
			h.restart(t)

			for i, c := range cs {
				tid := c.cfg.TID
				if c.failure != nil {
					t.Fatalf("before the kill: %v", c.failure)
				}
				x := c.unanswered
				if x == nil || x.Type != terms[i].trig.typ {
					t.Fatalf("%s: unanswered %v, want its %v", tid, x, terms[i].trig)
				}
				// The journal says what the host did with it before it died.
				stan := stanOf(x)
				approved := len(h.journal(t, tid, url.Values{"stan": {stan}, "txn": {string(x.Type)}, "rc": {txn.Approved}}))
				switch at := terms[i].trig.at; {
				case at == beforeHost && approved != 0, at == answerLost && approved != 1:
					t.Errorf("%s: %s STAN %s stopped %s: the host's journal holds %d approvals of it", tid, x.Type, stan, at, approved)
				}

				c.redial(t, h.addr)
				if err := c.recoverUnanswered(terms[i].resendVoid); err != nil {
					t.Fatalf("after the restart: %v", err)
				}
				if terms[i].resendVoid {
					// Sent twice, approved once: one RRN, however often the
					// journal shows it approved.
					rrns := map[string]bool{}
					for _, e := range h.journal(t, tid, url.Values{"stan": {stan}, "txn": {"void"}, "rc": {txn.Approved}}) {
						rrns[e.RRN] = true
					}
					if len(rrns) != 1 {
						t.Errorf("%s: void STAN %s sent again after the restart: approved under RRNs %v, want one", tid, stan, rrns)
					}
				}
				if lost, extra := checkBooks(t, h, c, c.told); lost != 0 || extra != 0 {
					t.Errorf("%s (%v): %d approvals lost, %d counted that the terminal does not", tid, terms[i].trig, lost, extra)
				}
				batch, records := c.t.State.Batch, len(c.t.State.Records)
				xs, err := c.t.Settle()
				if err != nil || !settled(xs, c.cfg.Dialect.Preamble > 0) {
					t.Errorf("%s (%v): settlement of %d records after the restart: %v; want it balanced at once", tid, terms[i].trig, records, err)
				}
				if b := h.batch(t, tid, batch); b.State != "closed" || b.Outcome != "balanced" {
					t.Errorf("%s: batch %s after settlement: %s, %s; want closed, balanced", tid, batch, b.State, b.Outcome)
				}
			}
		})
	}
}

// doneCh is closed when wg's goroutines are done.
func doneCh(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

func failures(cs []*crashTerminal) []error {
	var out []error
	for _, c := range cs {
		if c.failure != nil {
			out = append(out, c.failure)
		}
	}
	return out
}
