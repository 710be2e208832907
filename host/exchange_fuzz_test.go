package host_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// FuzzExchange feeds mutated golden requests through the whole exchange, over
// loopback to a running host, and holds every answer to what a strict
// terminal accepts: it decodes with nothing left over and no field out of
// its class, answers the request (dialect.CheckAnswer, against the request
// as the host could read it), and no field but F2 carries 12 digits in a row
// of the card number the golden request carried, wherever the mutation moved
// them, within a field or across fields side by side, unless it is the
// request's own field carried back from its place (a terminal may send any
// digits in F4; the host cannot tell them from a card number, only a field
// out of place from one in place: fields are taken as in place when the host
// read a card number in F2, or when the request need not carry one and
// nothing says its fields are out of place).
func FuzzExchange(f *testing.F) {
	type host struct {
		s        *sim.Sim
		d        *dialect.Dialect
		c        *term
		sentinel []byte   // an echo with a STAN of its own, sent after each input
		pans     []string // the cards of the golden requests
	}
	var hosts []*host
	for _, name := range fixtures.DialectNames() {
		s := start(f, sim.Config{Dialect: name})
		h := &host{s: s, d: s.Dialect}
		h.sentinel = echoWithSTAN(f, name, "999999")
		hosts = append(hosts, h)
		for _, v := range goldenRequests(f, name) {
			f.Add(uint8(len(hosts)-1), v)
			if m, err := h.d.Decode(v[h.d.Preamble:]); err == nil {
				if pan := dialect.FieldValue(m, 2); pan != "" && !slices.Contains(h.pans, pan) {
					h.pans = append(h.pans, pan)
				}
			}
		}
		if len(h.pans) == 0 {
			f.Fatalf("no card number in the %s golden requests", name)
		}
		// A chip sale: F23 and the first chip vector's F55.
		chip, _, err := h.d.Build(txn.Sale, dialect.Values{STAN: "000777", TID: "TERM0001", MID: "898100012340001",
			PAN: vectorPAN, Expiry: "3012", Amount: 1234, Batch: "000001", EntryMode: "051", CardSeq: "001", ICC: vectorF55})
		if err != nil {
			f.Fatal(err)
		}
		packed, err := chip.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(len(hosts)-1), append(bytes.Clone(goldenRequests(f, name)[0][:h.d.Preamble]), packed...))
		h.pans = append(h.pans, vectorPAN)
	}
	const run = 12

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		h := hosts[int(which)%len(hosts)]
		if len(body) > 4000 {
			return // the frame limit has its own tests
		}
		// One connection for input after input, taken away while an input
		// is in flight: an input that fails leaves answers unread on it.
		c := h.c
		h.c = nil
		if c == nil {
			conn, err := net.DialTimeout("tcp", h.s.Addr(), patience)
			if err != nil {
				t.Fatal(err)
			}
			c = &term{conn: conn, r: bufio.NewReader(conn), header: dialect.Binary2, d: h.d}
		}
		c.t = t
		c.send(body, h.sentinel)

		// An answer carries a TPDU when its request did (iso87bcd's is
		// optional): its own first byte may be 60h with none, an MTI 60xx.
		var req []byte
		pre := h.d.PreambleOf(body)
		if len(body) >= pre {
			req = body[pre:]
		}
		for {
			resp, err := readFrameOrEnd(c)
			if err != nil {
				// The host hung up on a message it could not answer (no
				// MTI); the next input gets a new connection.
				c.conn.Close()
				return
			}
			if len(resp) < pre {
				t.Fatalf("a %d-byte answer cannot hold the preamble", len(resp))
			}
			msg := resp[pre:]
			m, err := h.d.Decode(msg)
			if pre > 0 && h.d.OptionalTPDU && len(resp) > 0 && resp[0] != 0x60 {
				// The sentinel came without a TPDU, and so does its answer.
				msg = resp
				m, err = h.d.Decode(msg)
				if err == nil {
					if mti, _ := m.GetMTI(); mti != "0810" || dialect.FieldValue(m, 11) != "999999" {
						t.Fatalf("answer %X to %X has no TPDU, and its request had one", msg, req)
					}
				}
			}
			if err != nil {
				t.Fatalf("answer %X to %X does not decode strictly: %v", msg, req, err)
			}
			if mti, _ := m.GetMTI(); (mti == "0810" || mti == "0830") && dialect.FieldValue(m, 11) == "999999" {
				h.c = c
				return // the sentinel's answer: every answer to the input came before it
			}
			// The request as the host could read it: what the host may carry
			// back, and nothing else.
			rm, rerr := h.d.Decode(req)
			if rm == nil {
				t.Fatalf("answer %X to %X, whose MTI does not decode", msg, req)
			}
			if err := h.d.CheckAnswer(rm, m); err != nil {
				t.Fatalf("answer %X to %X: %v", msg, req, err)
			}
			// Field by field, and across fields as they lie on the wire.
			// The fields are in their places when the card number is where
			// it belongs, or, in a request that need not carry one (a
			// reversal, a settlement), when nothing says otherwise.
			mti, _ := rm.GetMTI()
			inPlace := rm.GetField(2) != nil || !cardMTI(mti) && !errors.Is(rerr, dialect.ErrMisplaced)
			var all strings.Builder
			for id := 3; id <= 128; id++ {
				v := dialect.FieldValue(m, id)
				if v == "" || inPlace && v == dialect.FieldValue(rm, id) {
					// A request's own field, in its place, carried back:
					// what the terminal put there is its business.
					all.WriteByte('|')
					continue
				}
				all.WriteString(v)
				for _, pan := range h.pans {
					for i := 0; i+run <= len(pan); i++ {
						if strings.Contains(all.String(), pan[i:i+run]) {
							t.Fatalf("answer %X to %X carries card digits (in F%d or up to it)", msg, req, id)
						}
					}
				}
			}
		}
	})
}

// cardMTI reports the requests that must carry a card (01xx, 02xx).
func cardMTI(mti string) bool {
	return len(mti) == 4 && (mti[1] == '1' || mti[1] == '2') && mti[2]%2 == 0
}

// echoWithSTAN is the golden echo request with another STAN.
func echoWithSTAN(t testing.TB, dialectName, stan string) []byte {
	t.Helper()
	echo := golden(t, dialectName, "echo-request")
	switch dialectName {
	case "cup":
		return replace(t, echo, unhex("000002"+"3132"), unhex(stan+"3132"))
	case "iso87bcd":
		return replace(t, echo, append(unhex("000002"), "TERM"...), append(unhex(stan), "TERM"...))
	}
	return replace(t, echo, []byte("000002TERM"), []byte(stan+"TERM"))
}

// readFrameOrEnd reads one frame, or says that the host closed the
// connection.
func readFrameOrEnd(c *term) ([]byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(patience))
	if _, err := c.r.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, err
		}
		c.t.Fatalf("waiting for an answer: %v", err)
	}
	return c.readFrame(), nil
}

// vectorPAN and vectorF55 are the first independent chip vector's card and
// request F55.
const (
	vectorPAN = "6212345678901234"
	vectorF55 = "9F2608033B0085B6DA06529F2701809F100F07010103A00000010A0100000000009F3704112233449F36020001950500000080009A032611109C01009F02060000000012345F2A02015682027C009F1A0201569F03060000000000009F3303E0E1C89F34034203009F3501229F1E08534E3030303030318408A0000003330101019F090200305F340101"
)

// goldenRequests are the request frames of a dialect's golden vectors, as
// golden returns them.
func goldenRequests(t testing.TB, dialectName string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile("dialect/testdata/" + dialectName + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Vectors []struct{ Name, Direction string }
	}
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, v := range vf.Vectors {
		if v.Direction == "request" {
			out = append(out, bytes.Clone(golden(t, dialectName, v.Name)))
		}
	}
	return out
}
