package sim_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"

	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// isolationBound is how long each of the honest terminal's sales may take,
// its connection included. A sale on loopback takes a millisecond or so,
// under -race and with every scenario's host running at once some tens: the
// bound leaves a loaded machine a wide margin. Yet it is half the shortest
// scripted delay in the library (flaky-network's 2s..8s; late-response's 65s,
// settlement-delay's 45s and upload-delay's 20s are longer, and
// duplicate-response's 500ms gap follows an answer on time), so a sale held
// behind the other terminal's scenario would exceed it.
const isolationBound = time.Second

const (
	// The terminal with a scenario of its own, and the honest one, each with
	// its own merchant.
	boundTID, boundMID    = "TERMA001", "898100012340101"
	otherTID, otherOwnMID = "TERMB001", "898100012340202"
	// otherSales is how many sales the honest terminal makes, each on a
	// connection of its own.
	otherSales = 20
	// boundTimeout is the bound terminal's wait for each answer: its scenario
	// may never answer, and it should keep its traffic going meanwhile.
	boundTimeout = 250 * time.Millisecond
)

// refuseScenario has the bound terminal's every sale refuse its new
// connections for an hour: no built-in scenario uses refuse, the one fault
// that acts beyond its own exchange.
const refuseScenario = "name: refuse-an-hour\nrules:\n  - match: txn == \"sale\"\n    action: {refuse: {for: 1h}}\n"

// TestBoundScenariosIsolated: docs/scenarios.md promises that bound scenarios
// never disturb each other. Each built-in scenario (and a refuse) is bound to
// one terminal, which transacts every way it can while another terminal,
// unbound and of another merchant, makes sales on new connections: each is
// approved within isolationBound, before and after the host's clock enters
// the library's time windows.
func TestBoundScenariosIsolated(t *testing.T) {
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]*scenarios.Compiled{}
	for _, sc := range lib.All() {
		all[sc.Name] = sc
	}
	if len(all) == 0 {
		t.Fatal("no built-in scenarios")
	}
	refuse, err := scenarios.Load("refuse-an-hour.yaml", []byte(refuseScenario))
	if err != nil {
		t.Fatal(err)
	}
	all[refuse.Name] = refuse
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := start(t, sim.Config{Admin: "off"})
			s.Engine.Bind(boundTID, all[name])
			// 10:00 is inside T0's window and outside every other; 23:02
			// is in the cut-over and issuer-flaky's settlement window, and
			// outside T0's; 23:55 is in the maintenance window.
			for i, now := range []time.Time{at(11, 10, 0), at(11, 23, 2), at(11, 23, 55)} {
				s.Clock.Set(now)
				isolated(t, s, now.Format("15:04"), (i+1)*1000)
			}
		})
	}
}

// isolated runs the bound terminal's traffic and, once a round of it has gone
// through (its scenario is in force: a refuse refuses, a late answer is
// held), the honest terminal's sales alongside it. stan is where both count
// their trace numbers from.
func isolated(t *testing.T, s *sim.Sim, when string, stan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oneRound := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; ; round++ {
			boundRound(ctx, s, stan+round*40)
			if round == 0 {
				close(oneRound)
			}
			if ctx.Err() != nil || round == 50 {
				return
			}
		}
	}()
	<-oneRound

	for i := range otherSales {
		began := time.Now()
		term, err := terminal.Dial(context.Background(), terminal.Config{
			Addr: s.Addr(), Dialect: s.Dialect, TID: otherTID, MID: otherOwnMID, Timeout: patience,
		})
		if err != nil {
			t.Fatalf("%s: the honest terminal's connection %d: %v", when, i+1, err)
		}
		term.State.STAN = stan + i
		x, err := term.Sale(1000 + int64(i))
		took := time.Since(began)
		term.Close()
		if err != nil {
			t.Fatalf("%s: the honest terminal's sale %d on a new connection: %v", when, i+1, err)
		}
		if x.RC() != txn.Approved {
			t.Fatalf("%s: the honest terminal's sale %d: RC %s, want %s", when, i+1, x.RC(), txn.Approved)
		}
		if took > isolationBound {
			t.Errorf("%s: the honest terminal's sale %d took %v, want at most %v", when, i+1, took, isolationBound)
		}
	}
	cancel()
	wg.Wait()
}

// boundRound is one round of the bound terminal's traffic on a new
// connection: every kind of request, whatever its scenario answers. A request
// unanswered in boundTimeout is left behind; a connection the scenario ends
// ends the round, and so does ctx.
func boundRound(ctx context.Context, s *sim.Sim, stan int) {
	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, TID: boundTID, MID: boundMID, Timeout: boundTimeout,
		ManualReversal: true,
	})
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { term.Close() })
	defer func() {
		if stop() {
			term.Close()
		}
	}()
	term.State.STAN = stan
	steps := []func() error{
		func() error { _, err := term.SignOn(); return err },
		func() error { _, err := term.Echo(); return err },
		func() error { _, err := term.Sale(1500); return err },
		func() error { _, err := term.Sale(1200); return err },
		func() error {
			if r := term.Last(txn.Sale); r != nil {
				_, err := term.Void(r)
				return err
			}
			return nil
		},
		func() error {
			if r := term.Last(txn.Sale); r != nil {
				_, err := term.Refund(100, r)
				return err
			}
			return nil
		},
		func() error { _, err := term.Reverse(fmt.Sprintf("%06d", stan+3), 1500, "98", false); return err },
		func() error { _, err := term.Balance(); return err },
		func() error { _, err := term.PreAuth(5000); return err },
		func() error { _, err := term.Advice(700); return err },
		func() error { _, err := term.Settle(); return err },
	}
	for _, step := range steps {
		if err := step(); errors.Is(err, connection.ErrConnectionClosed) {
			return
		}
	}
}
