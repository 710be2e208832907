package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestMain lets the test binary play acqsim itself, so that a test can run
// the host in a process of its own and kill it hard.
func TestMain(m *testing.M) {
	if os.Getenv("ACQSIM_TEST_SERVE") == "1" {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		os.Exit(run(ctx, os.Args[1:], os.Stdout, io.Discard))
	}
	os.Exit(m.Run())
}

// hostProcess starts `acqsim args...` in a child process and returns its
// terminal and admin addresses once it listens (admin "off" when it has none).
func hostProcess(t *testing.T, args ...string) (cmd *exec.Cmd, iso, admin string) {
	t.Helper()
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ACQSIM_TEST_SERVE=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the host printed no listening line: %v", err)
	}
	m := regexp.MustCompile(`iso8583=(\S+) admin=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("listening line %q", line)
	}
	go io.Copy(io.Discard, out)
	return cmd, m[1], m[2]
}

// TestHardKillLosesNothing kills the host (SIGKILL) in the middle of a load
// of sales from several terminals, restarts it on the same journal file, and
// has each terminal do what a real one does: reverse the sale that got no
// answer, then settle from its own record. Every settlement must balance:
// every approval a terminal received is in the host's books.
func TestHardKillLosesNothing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "journal.db")
	serve := []string{"serve", "--listen", "127.0.0.1:0", "--admin", "off", "--journal", file, "--log-level", "error"}
	host, addr, _ := hostProcess(t, serve...)
	d, err := fixtures.Dialect("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}

	const terminals = 4
	type term struct {
		t       *terminal.Terminal
		pending *terminal.Record // a sale sent but not answered when the host died
	}
	terms := make([]*term, terminals)
	var approved atomic.Int64
	var wg sync.WaitGroup
	killed, enough := make(chan struct{}), make(chan struct{})
	for i := range terms {
		tt, err := terminal.Dial(context.Background(), terminal.Config{
			Addr: addr, Dialect: d, TID: fmt.Sprintf("KILL%04d", i), MID: "898100012340001", Timeout: 3 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		terms[i] = &term{t: tt}
		wg.Add(1)
		go func(tm *term, i int) {
			defer wg.Done()
			for n := 1; ; n++ {
				amount := int64(100*i + n)
				x, err := tm.t.Sale(amount)
				if err != nil {
					// The host is gone: this sale may or may not have been
					// approved; the terminal will reverse it.
					stan, _ := x.Request.GetString(11)
					tm.pending = &terminal.Record{STAN: stan, Amount: amount}
					return
				}
				if x.RC() != txn.Approved {
					t.Errorf("sale: RC %s", x.RC())
					return
				}
				if approved.Add(1) == 400 {
					close(enough) // the kill must land mid-flight
				}
				select {
				case <-killed:
					return
				default:
				}
			}
		}(terms[i], i)
	}
	<-enough
	host.Process.Kill()
	close(killed)
	host.Wait()
	wg.Wait()

	_, addr, _ = hostProcess(t, serve...)
	for i, tm := range terms {
		tm.t.Close()
		again, err := terminal.Dial(context.Background(), terminal.Config{
			Addr: addr, Dialect: d, TID: fmt.Sprintf("KILL%04d", i), MID: "898100012340001", Timeout: 3 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		again.State = tm.t.State
		if tm.pending != nil {
			x, err := again.Reverse(tm.pending.STAN, tm.pending.Amount, "98", false)
			if err != nil || x.RC() != txn.Approved {
				t.Fatalf("terminal %d: reversal of the unanswered sale: %v", i, err)
			}
		}
		xs, err := again.Settle()
		if err != nil {
			t.Fatalf("terminal %d: settlement after the restart: %v", i, err)
		}
		if len(xs) != 1 || xs[0].RC() != txn.Approved {
			t.Errorf("terminal %d: settlement of %d sales after a hard kill is out of balance (RC %s, %d exchanges)",
				i, len(again.State.Records), xs[0].RC(), len(xs))
		}
	}
	t.Logf("%d sales approved before the kill", approved.Load())
}
