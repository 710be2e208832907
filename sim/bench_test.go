package sim_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/acqsim/acqsim/sim"
)

// A 0200 sale in iso87ascii (the golden sale request, F11 at a known offset).
const saleHex = "3032303037303343303438303230433030303030313634373631373339303031303130303130303030303030303030303030303132333435303030303033313031353030303631313235313230323130303337343736313733393030313031303031303D32353132323031313134333830343430303030305445524D303030314D45524348414E5430303030303031"

// BenchmarkExchange measures whole sales over loopback TCP: frame, decode,
// decide, encode, write, read back, one connection per parallel client.
func BenchmarkExchange(b *testing.B) {
	s := start(b, sim.Config{Admin: "off"})
	body, _ := hex.DecodeString(saleHex)
	stanAt := 4 + 16 + 2 + 16 + 6 + 12 // MTI, bitmap, F2 (LL + 16), F3, F4
	var conns atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		id := conns.Add(1)
		frame := append([]byte{byte(len(body) >> 8), byte(len(body))}, body...)
		copy(frame[2+stanAt-2:], fmt.Sprintf("%02d", id%100)) // STAN prefix per client: no duplicates
		r := bufio.NewReader(c)
		var hdr [2]byte
		resp := make([]byte, 512)
		n := 0
		for pb.Next() {
			n++
			copy(frame[2+stanAt+2:], fmt.Sprintf("%04d", n%10000))
			if _, err := c.Write(frame); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(r, resp[:int(hdr[0])<<8|int(hdr[1])]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
