package host_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// logBuffer is a log the host writes from its connection goroutines while
// the test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes a JSON log, a record a line.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestExchangeLog: at debug level the host logs one line for an exchange,
// with the journal's columns and the card number masked as the journal masks
// it, and nothing of the card beyond that; at info level it logs no such line.
func TestExchangeLog(t *testing.T) {
	for _, tc := range []struct {
		dialect, scenario string
		level             slog.Level
		rc, rule, action  string
	}{
		{dialect: "iso87ascii", level: slog.LevelDebug, rc: txn.Approved},
		{dialect: "cup", level: slog.LevelDebug, rc: txn.Approved},
		{dialect: "iso87ascii", scenario: "insufficient-funds", level: slog.LevelDebug, rc: "51",
			rule: "sales declined for funds", action: "respond rc=51"},
		{dialect: "iso87ascii", level: slog.LevelInfo, rc: txn.Approved},
	} {
		t.Run(tc.dialect+"/"+tc.scenario+"/"+tc.level.String(), func(t *testing.T) {
			d := loadDialect(t, tc.dialect)
			sale := golden(t, tc.dialect, "sale-request")
			req := decodeStrictly(t, d, sale[d.Preamble:])
			pan, track := dialect.FieldValue(req, 2), dialect.FieldValue(req, 35)
			if pan == "" || track == "" {
				t.Fatalf("the golden sale has F2 %q and F35 %q: the test needs both", pan, track)
			}

			var logs logBuffer
			s := start(t, sim.Config{Dialect: tc.dialect, Scenario: tc.scenario,
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tc.level}))})
			c := dial(t, s)
			c.send(sale)
			// The line is written before the answer is sent.
			c.expect("sale", dialect.ResponseMTI(dialect.FieldValue(req, 0)), tc.rc)
			e := latestEntry(t, s)

			var lines []map[string]any
			for _, r := range logs.records(t) {
				if r["msg"] == "exchange" {
					lines = append(lines, r)
				}
			}
			if tc.level > slog.LevelDebug {
				if len(lines) != 0 {
					t.Errorf("at %v the host logged exchanges: %v", tc.level, lines)
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("logged %d exchange lines, want 1; the log:\n%s", len(lines), logs.String())
			}
			got := lines[0]
			want := map[string]any{
				"level": "DEBUG", "mti": e.MTI, "response_mti": e.RespMTI, "txn": "sale", "stan": e.STAN,
				"tid": tids[tc.dialect], "mid": e.MID, "pan": txn.MaskPAN(pan), "amount": float64(e.Amount),
				"currency": e.Currency, "rc": tc.rc, "conn": e.Conn,
			}
			if tc.rule != "" {
				want["scenario"], want["rule"], want["action"] = tc.scenario, tc.rule, tc.action
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %#v, want %#v", k, got[k], v)
				}
			}
			if e.MTI == "" || e.STAN == "" || e.MID == "" || e.Amount == 0 || e.Conn == "" {
				t.Errorf("the journal entry lacks columns the line is checked against: %+v", e)
			}
			if _, ok := got["latency_us"].(float64); !ok {
				t.Errorf("latency_us: %#v, want a number", got["latency_us"])
			}
			if tc.rule == "" {
				for _, k := range []string{"scenario", "rule", "action", "err"} {
					if v, ok := got[k]; ok {
						t.Errorf("%s: %#v, want none for the default behaviour", k, v)
					}
				}
			}

			// Nothing of the card beyond its masked form, anywhere in the log.
			all := logs.String()
			hidden := pan[6 : len(pan)-4]
			_, afterSeparator, _ := strings.Cut(strings.ReplaceAll(track, "D", "="), "=")
			for what, s := range map[string]string{
				"the card number": pan, "the track": track, "the digits the mask hides": hidden,
				"the track after its separator": afterSeparator,
			} {
				if strings.Contains(all, s) {
					t.Errorf("the log holds %s (%s):\n%s", what, s, all)
				}
			}
			if panRun(all, pan) {
				t.Errorf("the log holds 12 digits of the card number in a row:\n%s", all)
			}
		})
	}
}
