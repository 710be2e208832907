package host

import (
	"io"
	"log/slog"
	"testing"

	"github.com/acqsim/acqsim/journal"
)

// TestExchangeLogCostsNothingOff: with debug off, logging an exchange builds
// nothing: no allocation on the hot path.
func TestExchangeLogCostsNothingOff(t *testing.T) {
	e := &journal.Entry{MTI: "0200", RespMTI: "0210", Txn: "sale", STAN: "000003", TID: "TERM0001",
		MID: "MERCHANT0000001", PAN: "476173******0010", Amount: 1234, Currency: "156", RC: "00",
		LatencyUS: 42, Scenario: "insufficient-funds", Rule: "sales declined for funds", Action: "respond rc=51"}
	for name, log := range map[string]*slog.Logger{
		"info":    slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		"discard": slog.New(slog.DiscardHandler),
	} {
		if n := testing.AllocsPerRun(100, func() { logExchange(log, e) }); n != 0 {
			t.Errorf("%s logger: %v allocations an exchange, want 0", name, n)
		}
	}
}
