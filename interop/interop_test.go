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

	"github.com/acqsim/acqsim/acqsimtest"
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

// testHost is a host on loopback and what its journal has recorded since it
// started.
type testHost struct {
	*sim.Sim
	h *acqsimtest.Host
}

// start runs a host on loopback for the test's lifetime.
func start(t *testing.T, cfg sim.Config) *testHost {
	t.Helper()
	h := acqsimtest.New(t, acqsimtest.Admin("off"), acqsimtest.Configure(func(c *sim.Config) {
		admin := c.Admin
		*c = cfg
		c.Listen, c.Admin = "127.0.0.1:0", admin
	}))
	return &testHost{Sim: h.Sim(), h: h}
}

// journalled waits for the host's journal to hold n entries of tid and
// returns them: the host journals an exchange just after writing its
// response, so it can lag behind what the client has already read.
func (h *testHost) journalled(t *testing.T, tid string, n int) []journal.Entry {
	t.Helper()
	got := h.h.Wait(t, journal.Filter{TID: tid}, n)
	if len(got) != n {
		t.Fatalf("journal has %d entries for %s, want %d: %+v", len(got), tid, n, got)
	}
	return got
}

// saleResult is what sale.js prints: the frames in hex, length header
// included, and the response as iso_8583 parsed it (field numbers as keys,
// "0" the MTI). sale.js has already held the response to the package's own
// field checks: it exits non-zero on one that fails them.
type saleResult struct {
	Request  string            `json:"request"`
	Response string            `json:"response"`
	Fields   map[string]string `json:"fields"`
}

// sale runs `node sale.js [ARGS...] ADDR STAN AMOUNT`.
func sale(t *testing.T, node, addr, stan, amount string, args ...string) saleResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append(append([]string{"sale.js"}, args...), addr, stan, amount)
	cmd := exec.CommandContext(ctx, node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %v did not finish in time\nstderr:\n%s", args, stderr.String())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node %v exited with status %d\nstdout:\n%s\nstderr:\n%s", args, ee.ExitCode(), stdout.String(), stderr.String())
		}
		t.Fatalf("node %v: %v", args, err)
	}
	t.Logf("node %v:\n%s", args, stderr.String())
	var res saleResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Fields == nil {
		t.Fatalf("sale.js printed no {request, response, fields} object (%v)\nstdout:\n%s", err, stdout.String())
	}
	return res
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
	h := start(t, sim.Config{})

	resp := sale(t, node, h.Addr(), "000101", "12345").Fields
	checkApproved(t, resp, "000101", "000000012345")

	got := h.journalled(t, saleTID, 1)
	checkJournalled(t, got[0], "000101", resp["37"])
}

// TestFormatError sends sales with a letter in a numeric field (sale.js
// patches it into the frame iso_8583 packed, which will not pack it itself):
// each must get a 0210 with F39 30 that iso_8583 finds well-formed field by
// field (sale.js checks), without the bad field, with the valid fields a
// terminal matches its answer by echoed as sent, and nothing booked.
func TestFormatError(t *testing.T) {
	node := needNode(t)
	tests := []struct {
		field string
		stan  string
		// echoed are the fields the answer must carry back as sent.
		echoed map[string]string
	}{
		{"4", "000301", map[string]string{"3": "000000", "11": "000301", "41": saleTID, "42": saleMID}},
		{"11", "000302", map[string]string{"3": "000000", "4": "000000000700", "41": saleTID, "42": saleMID}},
	}
	for _, tt := range tests {
		t.Run("F"+tt.field, func(t *testing.T) {
			h := start(t, sim.Config{})
			resp := sale(t, node, h.Addr(), tt.stan, "700", "--letter", tt.field).Fields
			if resp["0"] != "0210" || resp["39"] != txn.FormatError {
				t.Errorf("answer MTI %q F39 %q, want 0210 with F39 %s (answer %v)", resp["0"], resp["39"], txn.FormatError, resp)
			}
			if v, ok := resp[tt.field]; ok {
				t.Errorf("answer carries back the bad F%s %q (answer %v)", tt.field, v, resp)
			}
			for f, v := range tt.echoed {
				if resp[f] != v {
					t.Errorf("answer F%s = %q, want %q as sent (answer %v)", f, resp[f], v, resp)
				}
			}
			if v, ok := resp["38"]; ok {
				t.Errorf("a format error carries an approval code F38 %q (answer %v)", v, resp)
			}

			got := h.journalled(t, saleTID, 1)
			if e := got[0]; e.RC != txn.FormatError || e.Error == "" {
				t.Errorf("journal entry %+v, want RC %s and an error saying what was wrong", e, txn.FormatError)
			}
			for _, r := range h.Books.Records() {
				if r.TID == saleTID {
					t.Errorf("the host booked %+v from a request with a letter in F%s", r, tt.field)
				}
			}
		})
	}
}

// TestRetransmission sends the same sale twice, byte for byte, on two
// connections, the second after the host's clock has moved on past a
// minute and a midnight: the host must answer the second with the first
// answer's exact bytes, F12 and F13 (its time and date) included.
func TestRetransmission(t *testing.T) {
	node := needNode(t)
	h := start(t, sim.Config{Clock: time.Now().UTC().Truncate(24 * time.Hour).Add(-30 * time.Second), Location: time.UTC})
	h.Clock.Freeze(true)

	first := sale(t, node, h.Addr(), "000202", "5000")
	checkApproved(t, first.Fields, "000202", "000000005000")
	if err := h.Clock.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	again := sale(t, node, h.Addr(), "000202", "5000")
	if again.Request != first.Request {
		t.Fatalf("sale.js sent two different requests:\n%s\n%s", first.Request, again.Request)
	}
	checkApproved(t, again.Fields, "000202", "000000005000")
	if again.Response != first.Response {
		t.Errorf("the retransmission's answer is not the first answer's bytes:\nfirst %s\n      %v\nagain %s\n      %v",
			first.Response, first.Fields, again.Response, again.Fields)
	}

	got := h.journalled(t, saleTID, 2)
	for _, e := range got {
		checkJournalled(t, e, "000202", first.Fields["37"])
	}
}
