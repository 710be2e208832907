package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/fixtures"
)

// serveInBackground runs `acqsim serve args...` in-process and returns the
// addresses from its listening line, and a stop function that cancels it (as
// SIGINT does) and returns its exit status.
func serveInBackground(t *testing.T, args ...string) (iso, admin string, stop func() int) {
	t.Helper()
	_, iso, admin, stop = serveInProcess(t, args...)
	return iso, admin, stop
}

// serveInProcess runs `acqsim serve args...` in-process and returns its listening
// line, the addresses in it, and a stop function that cancels it (as SIGINT
// does) and returns its exit status.
func serveInProcess(t *testing.T, args ...string) (line, iso, admin string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "error"}, args...), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no listening line: %v (exit %d)", err, <-code)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`listening.* iso8583=(\S+) admin=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("listening line %q lacks iso8583= and admin=", line)
	}
	var once bool
	stop = func() int {
		if !once {
			once = true
			cancel()
		}
		select {
		case c := <-code:
			return c
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop within 15 s of being asked to")
			return -1
		}
	}
	t.Cleanup(func() {
		if !once {
			stop()
		}
	})
	return line, m[1], m[2], stop
}

func TestServeAndSend(t *testing.T) {
	for _, dialect := range fixtures.DialectNames() {
		t.Run(dialect, func(t *testing.T) {
			iso, admin, stop := serveInBackground(t, "--dialect", dialect, "--length-header", "ascii4")
			state := t.TempDir()
			send := func(args ...string) string {
				t.Helper()
				var out, errb bytes.Buffer
				all := append([]string{"send", "--host", iso, "--dialect", dialect, "--length-header", "ascii4", "--state-dir", state, "--timeout", "5s"}, args...)
				if code := run(context.Background(), all, &out, &errb); code != 0 {
					t.Fatalf("send %v: exit %d: %s", args, code, errb.String())
				}
				return out.String()
			}
			send("signon")
			out := send("sale", "--amount", "12.34", "-v")
			if !strings.Contains(out, "RC 00") || !strings.Contains(out, "amount=12.34") {
				t.Errorf("sale output lacks the approval or the amount:\n%s", out)
			}
			if strings.Contains(out, "4761739001010010") {
				t.Errorf("sale output shows the clear PAN:\n%s", out)
			}
			out = send("void")
			if !strings.Contains(out, "void") || !strings.Contains(out, "RC 00") {
				t.Errorf("void of the last sale (from the saved state) not approved:\n%s", out)
			}
			send("sale", "--amount", "5")
			out = send("settle")
			if !strings.Contains(out, "0510 RC 00") {
				t.Errorf("settle not answered 0510 00:\n%s", out)
			}

			resp, err := http.Get("http://" + admin + "/journal?txn=sale")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if n := strings.Count(string(body), `"mti": "0200"`); n != 2 {
				t.Errorf("journal lists %d sales, want 2:\n%s", n, body)
			}
			if code := stop(); code != 0 {
				t.Errorf("serve exited %d after SIGINT, want 0", code)
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acqsim.yaml")
	os.WriteFile(path, []byte("dialect: cup\nlength-header: bcd2\nholiday: [2026-12-25, 2026-12-26]\n"), 0o644)
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", path, "--listen", "127.0.0.1:0", "--admin", "off"}, pw, io.Discard)
		pw.Close()
	}()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	out.WriteString(line)
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"dialect=cup", "length-header=bcd2", "admin=off"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("listening line %q lacks %s", out.String(), want)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("dialekt: cup\n"), 0o644)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, args := range [][]string{
		{"serve", "--tls-cert", missing, "--tls-key", missing},
		{"serve", "--tls-client-ca", missing},
		{"serve", "--max-connections", "-1"},
		{"send", "sale", "--tls-ca", missing, "--state-dir", ""},
		{"send", "sale", "--tls-cert", missing, "--state-dir", ""},
		{"serve", "--dialect", "iso93"},
		{"serve", "--length-header", "ascii2"},
		{"serve", "--clock", "yesterday"},
		{"serve", "--log-format", "xml"},
		{"serve", "--no-such-flag"},
		{"serve", "--config", bad},
		{"serve", "--tz", "Mars/Olympus"},
		{"serve", "extra-arg"},
		{"frobnicate"},
		{"send"},
		{"send", "teleport"},
		{"send", "sale", "--amount", "12.345"},
	} {
		var errb bytes.Buffer
		code := run(context.Background(), args, io.Discard, &errb)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if lines := strings.Count(strings.TrimSpace(errb.String()), "\n"); lines != 0 || errb.Len() == 0 {
			t.Errorf("%v: want a one-line reason, got %q", args, errb.String())
		}
	}
}

// TestSendMasksCardData: every flow's printout, verbose, shows no card
// number, track data or upload record in clear, including a cup batch upload
// forced by an out-of-balance settlement.
func TestSendMasksCardData(t *testing.T) {
	iso, _, _ := serveInBackground(t, "--dialect", "cup", "--scenario", "settlement-out-of-balance")
	state := t.TempDir()
	var all bytes.Buffer
	for _, args := range [][]string{{"signon"}, {"sale", "--amount", "7.00"}, {"settle"}} {
		var out, errb bytes.Buffer
		cmd := append([]string{"send", "-v", "--host", iso, "--dialect", "cup", "--state-dir", state, "--timeout", "5s"}, args...)
		if code := run(context.Background(), cmd, &out, &errb); code != 0 {
			t.Fatalf("send %v: exit %d: %s", args, code, errb.String())
		}
		all.Write(out.Bytes())
	}
	if !strings.Contains(all.String(), "0320") {
		t.Fatalf("the out-of-balance settlement did not upload the batch:\n%s", all.String())
	}
	for _, secret := range []string{"4761739001010010", "=25122011", "739001010"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("send output contains %q in clear:\n%s", secret, all.String())
		}
	}
}
