package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// What sale.js sends besides the STAN and amount it is given.
const (
	saleTID = "NPMTERM1"
	saleMID = "MERCHANT0000001"
)

// needNode skips the test when node or the npm package iso_8583 is missing,
// unless ACQSIM_INTEROP=1 (as in CI, after `npm ci --prefix interop`), where
// a missing tool is a failure. It returns the path of node.
func needNode(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("ACQSIM_INTEROP") == "1" {
			t.Fatalf("ACQSIM_INTEROP=1 but %s", what)
		}
		t.Skipf("skipping the iso_8583 cross-check: %s (needs node on PATH and `npm ci --prefix interop`; ACQSIM_INTEROP=1 makes this a failure)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "iso_8583", "package.json")); err != nil {
		missing("interop/node_modules/iso_8583 is not installed")
	}
	return node
}

// start runs a host on loopback for the test's lifetime.
func start(t *testing.T) *sim.Sim {
	t.Helper()
	s, err := sim.Start(sim.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// sale runs `node sale.js ADDR STAN AMOUNT` and returns the response as the
// iso_8583 package parsed it: field numbers as keys, "0" the MTI.
func sale(t *testing.T, node, addr, stan, amount string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sale.js", addr, stan, amount)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node sale.js did not finish in time\nstderr:\n%s", stderr.String())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node sale.js exited with status %d\nstdout:\n%s\nstderr:\n%s", ee.ExitCode(), stdout.String(), stderr.String())
		}
		t.Fatalf("node sale.js: %v", err)
	}
	t.Logf("node sale.js %s %s %s:\n%s", addr, stan, amount, stderr.String())
	var resp map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("sale.js printed no JSON object of strings: %v\nstdout:\n%s", err, stdout.String())
	}
	return resp
}

// checkApproved checks a sale response against the request sale.js sent.
func checkApproved(t *testing.T, resp map[string]string, stan, amount string) {
	t.Helper()
	want := map[string]string{"0": "0210", "39": txn.Approved, "11": stan, "41": saleTID, "42": saleMID, "4": amount}
	for f, v := range want {
		if resp[f] != v {
			t.Errorf("response F%s = %q, want %q (response %v)", f, resp[f], v, resp)
		}
	}
	if n := len(resp["37"]); n != 12 {
		t.Errorf("response F37 %q has %d characters, want 12", resp["37"], n)
	}
	if resp["38"] == "" {
		t.Errorf("response has no F38 (response %v)", resp)
	}
}

// journalled waits for the host's journal to hold n entries of the terminal:
// the host journals an exchange just after writing its response, so it can
// lag behind what sale.js has already read.
func journalled(t *testing.T, s *sim.Sim, n int) []journal.Entry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := s.Journal.Query(journal.Filter{TID: saleTID})
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("journal has %d entries for %s, want %d: %+v", len(got), saleTID, n, got)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkJournalled checks a journal entry for an approved sale.
func checkJournalled(t *testing.T, e journal.Entry, stan, rrn string) {
	t.Helper()
	if e.MTI != "0200" || e.RespMTI != "0210" || e.Txn != string(txn.Sale) || e.STAN != stan ||
		e.RC != txn.Approved || e.RRN != rrn || e.MID != saleMID || e.Error != "" {
		t.Errorf("journal entry %+v, want a 0200/0210 sale, STAN %s, RC 00, RRN %s, no error", e, stan, rrn)
	}
}

// TestSale sends a sale packed by iso_8583 (always with a secondary bitmap)
// and parses the host's answer with it.
func TestSale(t *testing.T) {
	node := needNode(t)
	s := start(t)

	resp := sale(t, node, s.Addr(), "000101", "12345")
	checkApproved(t, resp, "000101", "000000012345")

	got := journalled(t, s, 1)
	checkJournalled(t, got[0], "000101", resp["37"])
}

// TestRetransmission sends the same sale twice, byte for byte, on two
// connections: the host must give the second the first one's answer.
func TestRetransmission(t *testing.T) {
	node := needNode(t)
	s := start(t)

	first := sale(t, node, s.Addr(), "000202", "5000")
	checkApproved(t, first, "000202", "000000005000")
	again := sale(t, node, s.Addr(), "000202", "5000")
	checkApproved(t, again, "000202", "000000005000")
	if again["37"] != first["37"] || again["38"] != first["38"] {
		t.Errorf("retransmission answered RRN %q auth %q, want the first answer's RRN %q auth %q",
			again["37"], again["38"], first["37"], first["38"])
	}

	got := journalled(t, s, 2)
	for _, e := range got {
		checkJournalled(t, e, "000202", first["37"])
	}
}
