package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/internal/testcert"
	"github.com/acqsim/acqsim/terminal"
)

func runBenchCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"bench"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-d", "1s", "-n", "10"},
		{"--mix", "sale=90,refund=10"},
		{"--mix", "sale=0"},
		{"-c", "0"},
		{"--pipeline", "0"},
		{"--rate", "-1"},
		{"--dialect", "iso93"},
		{"--length-header", "ascii3"},
		{"-o", "yaml"},
		{"--tid-prefix", "PREFIX12"},
		{"--tid-prefix", "ABCDEFG", "-c", "10"},
		{"--mid", "123"},
		{"--amount", "1.234"},
		{"--timeout", "0s"},
		{"--key-variant", "002"},
		{"--tls-cert", "cert.pem"},
		{"extra-argument"},
		{"--no-such-flag"},
	} {
		code, stdout, stderr := runBenchCmd(t, append(args, "--addr", "127.0.0.1:1")...)
		if code != 2 {
			t.Errorf("bench %v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if stdout != "" || !strings.HasPrefix(stderr, "acqsim: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("bench %v: stdout %q stderr %q, want one line on stderr", args, stdout, stderr)
		}
	}
}

func TestBenchUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, stderr := runBenchCmd(t, "--addr", addr, "-n", "10", "-q")
	if code != 1 || !strings.Contains(stderr, "connecting to "+addr) {
		t.Errorf("exit %d, stderr %q; want 1 and the connection error", code, stderr)
	}
}

// TestBenchNothingAnswered: a host that accepts and never answers.
func TestBenchNothingAnswered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	code, stdout, stderr := runBenchCmd(t, "--addr", ln.Addr().String(), "-n", "3", "-c", "2", "--timeout", "100ms", "-q")
	if code != 1 || !strings.Contains(stderr, "none of the 3 requests was answered") || !strings.Contains(stdout, "timeouts 3") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// benchKeys are the documented keys of `acqsim bench -o json`.
var (
	benchKeys = []string{"addr", "dialect", "connections", "pipeline", "mode", "rate", "mix", "duration_s", "warmup_s",
		"interrupted", "tps", "sent", "answered", "timeouts", "errors", "errors_by_kind", "rc",
		"p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us", "by_type",
		"send_lag_p50_us", "send_lag_p99_us", "send_lag_max_us", "unmatched", "reconnects", "connect_errors", "settlement"}
	benchTypeKeys = []string{"sent", "answered", "timeouts", "errors", "errors_by_kind", "rc",
		"p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us"}
	benchSettleKeys = []string{"terminals", "balanced", "out_of_balance", "failed", "uploads", "oversized_batches", "rc", "errors", "duration_s"}
)

func TestBenchJSON(t *testing.T) {
	for _, dialect := range fixtures.DialectNames() {
		t.Run(dialect, func(t *testing.T) {
			iso, _, _ := serveInBackground(t, "--dialect", dialect)
			code, stdout, stderr := runBenchCmd(t, "--addr", iso, "--dialect", dialect, "-n", "300", "-c", "3", "--pipeline", "2",
				"--mix", "sale=80,void=10,reversal=5,balance=5", "--settle", "-o", "json", "-q")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if stderr != "" {
				t.Errorf("-q, yet stderr says %q", stderr)
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, stdout)
			}
			sameKeys(t, "result", res, benchKeys, "settlement")
			byType := res["by_type"].(map[string]any)
			for typ, c := range byType {
				sameKeys(t, typ, c.(map[string]any), benchTypeKeys)
			}
			sameKeys(t, "settlement", res["settlement"].(map[string]any), benchSettleKeys, "errors")
			if res["sent"] != 300.0 || res["answered"] != 300.0 || res["dialect"] != dialect {
				t.Errorf("sent %v answered %v dialect %v", res["sent"], res["answered"], res["dialect"])
			}
			if rc := res["rc"].(map[string]any); rc["00"] != 300.0 || len(rc) != 1 {
				t.Errorf("rc %v, want 300 approvals", rc)
			}
			if s := res["settlement"].(map[string]any); s["balanced"] != 3.0 {
				t.Errorf("settlement %v, want 3 balanced", s)
			}
			if strings.Contains(stdout, terminal.DefaultCard.PAN) {
				t.Error("the report shows the card number")
			}
		})
	}
}

// sameKeys checks m has the keys want, less those of optional it lacks.
func sameKeys(t *testing.T, what string, m map[string]any, want []string, optional ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(m))
	w := slices.DeleteFunc(slices.Clone(want), func(k string) bool {
		_, present := m[k]
		return slices.Contains(optional, k) && !present
	})
	if slices.Sort(w); !slices.Equal(got, w) {
		t.Errorf("%s keys %v, want %v", what, got, w)
	}
}

func TestBenchTextAndProgress(t *testing.T) {
	iso, _, _ := serveInBackground(t)
	code, stdout, stderr := runBenchCmd(t, "--addr", iso, "-c", "2", "-d", "1100ms", "--mix", "sale=9,balance=1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"throughput", "latency µs p50", "RC         00=", "sale", "balance"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout)
		}
	}
	// Not a terminal: plain progress lines, one a second.
	if !strings.Contains(stderr, "tps") || strings.Contains(stderr, "\r") {
		t.Errorf("progress on stderr %q: want plain lines with tps", stderr)
	}
}

// TestBenchOverTLS: the load and the settlement go over TLS with a client
// certificate; without TLS the host refuses.
func TestBenchOverTLS(t *testing.T) {
	ca := testcert.NewCA(t, "acquirer")
	terminals := testcert.NewCA(t, "terminals")
	host := ca.Server("host")
	client := terminals.Client("BNCH0001")
	_, iso, _, _ := serveWithLine(t, "--tls-cert", host.CertFile, "--tls-key", host.KeyFile,
		"--tls-client-ca", terminals.File, "--admin", "off")

	code, stdout, stderr := runBenchCmd(t, "--addr", iso, "-n", "50", "-c", "2", "--settle", "-q",
		"--tls-ca", ca.File, "--tls-cert", client.CertFile, "--tls-key", client.KeyFile)
	if code != 0 || !strings.Contains(stdout, "answered 50") || !strings.Contains(stdout, "2 balanced") {
		t.Errorf("over TLS: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runBenchCmd(t, "--addr", iso, "-n", "5", "-q", "--timeout", "2s"); code != 1 {
		t.Errorf("in plain TCP against a TLS host: exit %d, want 1 (%s)", code, stderr)
	}
}
