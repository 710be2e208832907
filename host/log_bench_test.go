package host_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
)

// BenchmarkExchangeLogLevel measures sales over loopback with the log at
// info (the default: the exchange line must cost nothing) and at debug (one
// line an exchange), one connection, one sale at a time.
func BenchmarkExchangeLogLevel(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		b.Run(level.String(), func(b *testing.B) {
			s := start(b, sim.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))})
			c := dial(b, s)
			sale := frame(dialect.Binary2, withSTAN(b, "iso87ascii", "000000"))
			// The STAN's place, found once: each sale gets its own, so that
			// none is a repeat.
			at := bytes.Index(sale, []byte("000012345000000101500")) + len("000012345")
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				copy(sale[at:at+6], fmt.Appendf(nil, "%06d", i%1000000))
				c.write(sale)
				c.readFrame()
			}
		})
	}
}
