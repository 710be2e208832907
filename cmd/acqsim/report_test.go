package main

import (
	"encoding/csv"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/report"
)

// feeNoCapHost serves the fee-no-cap scenario in-process with a debit sale of
// 10,000.00 (charged 50.00: the cap of 20.00 not applied) and a credit sale
// of 100.00 (0.60) booked at noon on Tuesday 11 March 2025 (UTC), and returns
// the admin API's address.
func feeNoCapHost(t *testing.T) string {
	t.Helper()
	iso, admin, _ := serveInBackground(t, "--scenario", "fee-no-cap", "--clock", "2025-03-11T12:00:00Z", "--tz", "UTC")
	state := t.TempDir() // one terminal, its trace numbers counting on
	for _, args := range [][]string{
		{"sale", "--amount", "10000", "--pan", "6222020000000011", "--expiry", "2712"},
		{"sale", "--amount", "100"},
	} {
		all := append([]string{"send", "--host", iso, "--state-dir", state, "--timeout", "5s"}, args...)
		if code, stdout, stderr := acqsim(all...); code != 0 || !strings.Contains(stdout, "RC 00") {
			t.Fatalf("send %v: exit %d, want an approval:\n%s%s", args, code, stdout, stderr)
		}
	}
	return admin
}

func TestReportSettlements(t *testing.T) {
	admin := feeNoCapHost(t)

	t.Run("table", func(t *testing.T) {
		code, stdout, stderr := acqsim("report", "settlements", "--admin", admin)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d lines, want a header, credit, debit and total:\n%s", len(lines), stdout)
		}
		for i, want := range []string{
			`^ *MID +SETTLES +MODE +CARD +COUNT +GROSS +FEES +NET +FUNDS AVAILABLE +FAULTS$`,
			`^ *898100012340001 +2025-03-12 +T1 +credit +1 +100\.00 +0\.60 +99\.40 *$`,
			`^ *898100012340001 +2025-03-12 +T1 +debit +1 +10000\.00 +50\.00 +9950\.00 *$`,
			`^ *898100012340001 +2025-03-12 +T1 +total +2 +10100\.00 +50\.60 +10049\.40 +2025-03-12 09:00 +fee-no-cap$`,
		} {
			if !regexp.MustCompile(want).MatchString(lines[i]) {
				t.Errorf("line %d %q, want it to match %s", i+1, lines[i], want)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := acqsim("report", "settlements", "--admin", admin, "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var ss []report.Settlement
		if err := json.Unmarshal([]byte(stdout), &ss); err != nil {
			t.Fatalf("output does not parse as a settlement report: %v\n%s", err, stdout)
		}
		if len(ss) != 1 || ss[0].Fees != 5060 || ss[0].ByCardType["debit"] == nil || ss[0].ByCardType["debit"].Fees != 5000 ||
			!slices.Contains(ss[0].Faults, "fee-no-cap") {
			t.Errorf("report %+v, want one settlement: fees 50.60, 50.00 of them on the debit card, the fault named", ss)
		}
	})

	t.Run("csv", func(t *testing.T) {
		code, stdout, stderr := acqsim("report", "settlements", "--admin", "http://"+admin, "-o", "csv", "--mid", "898100012340001")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil {
			t.Fatalf("output is not CSV: %v\n%s", err, stdout)
		}
		header := []string{"mid", "settlement_date", "mode", "currency", "card_type", "count", "gross", "fees", "net", "funds_available", "batches", "faults"}
		if len(rows) != 4 || !slices.Equal(rows[0], header) {
			t.Fatalf("rows %q, want the header %v and three rows", rows, header)
		}
		want := []string{"898100012340001", "2025-03-12", "T1", "840", "total", "2", "10100.00", "50.60", "10049.40", "2025-03-12T09:00:00Z", "TERM0001/000001:open", "fee-no-cap"}
		if !slices.Equal(rows[3], want) {
			t.Errorf("total row %q, want %q", rows[3], want)
		}
	})

	t.Run("filtered to nothing", func(t *testing.T) {
		code, stdout, stderr := acqsim("report", "settlements", "--admin", admin, "--date", "2025-03-11")
		if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, "MID") {
			t.Errorf("exit %d, output %q (%s); want the header alone", code, stdout, stderr)
		}
	})
}

// With no subcommand, report prints the settlement report: byte for byte
// what report settlements prints with the same flags.
func TestReportDefaultsToSettlements(t *testing.T) {
	admin := feeNoCapHost(t)

	for _, tc := range []struct {
		name  string
		flags []string
		want  string // in the output, so that two empty outputs do not pass
	}{
		{"table", []string{"--admin", admin}, "SETTLES"},
		{"json", []string{"--admin", admin, "-o", "json"}, `"fee-no-cap"`},
		{"csv filtered", []string{"-o", "csv", "--mid", "898100012340001", "--admin", "http://" + admin}, "settlement_date"},
		{"filtered to nothing", []string{"--admin", admin, "--date", "2025-03-11"}, "FUNDS AVAILABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got, stderr := acqsim(append([]string{"report"}, tc.flags...)...)
			if code != 0 {
				t.Fatalf("report %v: exit %d: %s", tc.flags, code, stderr)
			}
			code, want, stderr := acqsim(append([]string{"report", "settlements"}, tc.flags...)...)
			if code != 0 {
				t.Fatalf("report settlements %v: exit %d: %s", tc.flags, code, stderr)
			}
			if got != want {
				t.Errorf("report %v printed\n%s\nwant what report settlements prints:\n%s", tc.flags, got, want)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("report %v printed\n%s\nwant it to contain %q", tc.flags, got, tc.want)
			}
		})
	}
}

func TestReportBatches(t *testing.T) {
	admin := feeNoCapHost(t)

	code, stdout, stderr := acqsim("report", "batches", "--admin", admin, "--tid", "TERM0001")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^ *MID +TID +BATCH +STATE +OUTCOME +DEBITS +CREDITS +UPLOADED +DIFFERENCES$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^ *898100012340001 +TERM0001 +000001 +open +2/10100\.00 +0/0\.00 +0 *$`).MatchString(lines[1]) {
		t.Errorf("table:\n%s\nwant the header and the open batch with its two sales", stdout)
	}

	code, stdout, stderr = acqsim("report", "batches", "--admin", admin, "-o", "json")
	var bs []books.Batch
	if err := json.Unmarshal([]byte(stdout), &bs); code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	if len(bs) != 1 || bs[0].State != books.BatchOpen || bs[0].Host.DebitAmount != 1_010_000 {
		t.Errorf("-o json: %+v, want the one open batch of 10,100.00", bs)
	}

	code, stdout, stderr = acqsim("report", "batches", "--admin", admin, "-o", "csv", "--state", "closed")
	if code != 0 {
		t.Fatalf("-o csv: exit %d: %s", code, stderr)
	}
	if rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll(); err != nil || len(rows) != 1 || rows[0][0] != "mid" || rows[0][len(rows[0])-1] != "differences" {
		t.Errorf("-o csv of no batch: %q (%v), want the header row alone", stdout, err)
	}
}

func TestReportUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"report", "ledger"},
		{"report", "settlements", "batches"},
		{"report", "settlements", "-o", "xml"},
		{"report", "-o", "xml"},
		{"report", "batches", "--no-such-flag"},
		{"report", "--no-such-flag"},
	} {
		code, _, stderr := acqsim(args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines != 0 || !strings.HasPrefix(stderr, "acqsim: ") {
			t.Errorf("%v: want a one-line reason, got %q", args, stderr)
		}
	}
}

func TestReportHostTrouble(t *testing.T) {
	// An address nothing listens on: one just given up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	// A host that answers, but not with a report.
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error": "books unavailable"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)

	for _, tc := range []struct {
		name, admin, want string
	}{
		{"unreachable", closed, "asking the host"},
		{"an error status", failing.URL, "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, what := range []string{"settlements", "batches"} {
				code, stdout, stderr := acqsim("report", what, "--admin", tc.admin)
				if code != 1 {
					t.Errorf("report %s: exit %d, want 1 (stderr %q)", what, code, stderr)
				}
				if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines != 0 || !strings.Contains(stderr, tc.want) {
					t.Errorf("report %s: stderr %q, want a one-line reason mentioning %q", what, stderr, tc.want)
				}
				if stdout != "" {
					t.Errorf("report %s: printed %q on standard output, want nothing", what, stdout)
				}
			}
		})
	}
}
