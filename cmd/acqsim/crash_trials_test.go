package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/txn"
)

// TestHardKillTrials runs kill/restart cycles on one journal file: in each,
// terminals run sales, voids and reversals until the host is killed at a
// point of one terminal's exchange that changes from cycle to cycle (a sale,
// a void or a reversal; before the host sees it, racing it, or with its
// answer lost), the others wherever they happen to be. After each restart
// every terminal deals with what went unanswered, and the host's books and
// journal must hold every approval the terminals were told of, and nothing
// they were not; one terminal a cycle then settles, which must balance.
//
// ACQSIM_KILL_TRIALS sets the number of cycles per dialect (default 3):
//
//	ACQSIM_KILL_TRIALS=50 go test ./cmd/acqsim/ -run HardKillTrials -v
func TestHardKillTrials(t *testing.T) {
	trials := 3
	if s := os.Getenv("ACQSIM_KILL_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("ACQSIM_KILL_TRIALS=%q: want a positive number", s)
		}
		trials = n
	}
	const terminals = 4
	kinds := [3]txn.Type{txn.Sale, txn.Void, txn.Reversal}
	points := [3]killPoint{beforeHost, racing, answerLost}

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

			cs := make([]*crashTerminal, terminals)
			for i := range cs {
				cs[i] = newCrashTerminal(t, d, h.addr, fmt.Sprintf("TRLK%04d", i))
				if err := cs[i].signOn(); err != nil {
					t.Fatal(err)
				}
			}
			var told, lost, extra, settlements int
			for trial := range trials {
				victim := trial % terminals
				// Any three trials in a row cover every kind and every point;
				// nine, every pair.
				trig := trigger{typ: kinds[trial%3], nth: 3 + 4*(trial%4), at: points[(trial+trial/3)%3]}
				taps := make([]*tap, terminals)
				var wg sync.WaitGroup
				t.Cleanup(wg.Wait) // after the taps' cleanup has hung up on the terminals
				for i, c := range cs {
					var tr *trigger
					if i == victim {
						tr = &trig
					}
					taps[i] = newTap(t, d, h.addr, tr)
					c.redial(t, taps[i].addr)
					c.told = nil
					wg.Add(1)
					go func() {
						defer wg.Done()
						c.work(amounts)
					}()
				}
				select {
				case <-taps[victim].armed:
				case <-doneCh(&wg):
					t.Fatalf("trial %d: the terminals stopped before %s reached %v: %v", trial, cs[victim].cfg.TID, trig, failures(cs))
				}
				h.kill(t)
				for _, p := range taps {
					p.cut()
				}
				wg.Wait()
				if err := failures(cs); len(err) > 0 {
					t.Fatalf("trial %d, before the kill: %v", trial, err)
				}
				h.restart(t)

				for i, c := range cs {
					c.redial(t, h.addr)
					if err := c.recoverUnanswered(trial%2 == 1); err != nil {
						t.Fatalf("trial %d (%s at %v), after the restart: %v", trial, cs[victim].cfg.TID, trig, err)
					}
					l, e := checkBooks(t, h, c, c.told)
					told += len(c.told)
					lost += l
					extra += e
					if i == (trial+1)%terminals {
						batch := c.t.State.Batch
						xs, err := c.t.Settle()
						if err != nil || !settled(xs, c.cfg.Dialect.Preamble > 0) {
							t.Errorf("trial %d: %s's settlement of batch %s after the restart: %v; want it balanced at once", trial, c.cfg.TID, batch, err)
						}
						settlements++
					}
				}
				if t.Failed() {
					t.Fatalf("trial %d: killed at %s's %v", trial, cs[victim].cfg.TID, trig)
				}
			}
			// The final books settle whole.
			for _, c := range cs {
				if xs, err := c.t.Settle(); err != nil || !settled(xs, c.cfg.Dialect.Preamble > 0) {
					t.Errorf("%s's final settlement: %v; want it balanced at once", c.cfg.TID, err)
				}
			}
			t.Logf("%s: %d kill/restart trials, %d transactions approved and told, %d lost, %d counted untold; %d settlements",
				dn, trials, told, lost, extra, settlements)
			if lost != 0 || extra != 0 {
				t.Errorf("%d approvals lost, %d counted that no terminal was told of", lost, extra)
			}
		})
	}
}
