package main

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/txn"
)

// TestHardKillKeepsWorkingKeys: cup terminals that signed on at the same
// moment keep their working keys across a hard kill. The restarted host
// replays the sign-ons from its journal; each terminal's MACed request must
// verify under the MAC key its own sign-on delivered (not under another's: a
// MAC error, A0, would make every one of them sign on again).
func TestHardKillKeepsWorkingKeys(t *testing.T) {
	const terminals = 64
	d, err := fixtures.Dialect("cup")
	if err != nil {
		t.Fatal(err)
	}
	h := startCrashHost(t, filepath.Join(t.TempDir(), "journal.db"), "--dialect", "cup")
	cs := make([]*crashTerminal, terminals)
	for i := range cs {
		cs[i] = newCrashTerminal(t, d, h.addr, fmt.Sprintf("KEYK%04d", i))
	}
	// All at once, as a shop's terminals do in the morning (and a few
	// times over, to give the race its chances).
	start := make(chan struct{})
	errs := make([]error, terminals)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 4 {
				if errs[i] = c.signOn(); errs[i] != nil {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	h.kill(t)
	h.restart(t)

	var wrong int
	for i, c := range cs {
		c.redial(t, h.addr)
		x, err := c.t.Balance()
		if err != nil {
			t.Fatalf("%s: balance inquiry after the restart: %v", c.cfg.TID, err)
		}
		if x.RC() == txn.Approved {
			continue
		}
		wrong++
		if wrong > 3 {
			continue
		}
		// Whose key does the host hold for it now? (Asked for the first few.)
		holder := "a key no terminal holds any more"
		for j, o := range cs {
			if j == i {
				continue
			}
			c.t.UseMACKey(o.mac)
			if y, err := c.t.Balance(); err == nil && y.RC() == txn.Approved {
				holder = o.cfg.TID + "'s MAC key"
				break
			}
		}
		c.t.UseMACKey(c.mac)
		t.Errorf("%s: MACed request after the restart answered RC %s; the host holds %s for it", c.cfg.TID, x.RC(), holder)
	}
	if wrong > 0 {
		t.Errorf("%d of %d terminals that signed on together lost their working keys to the restart", wrong, terminals)
	}
}
