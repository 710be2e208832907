package admin_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
)

// exchangeBody is the answer of GET /journal/{seq}.
type exchangeBody struct {
	Entry    journal.Entry   `json:"entry"`
	Request  *dialect.Detail `json:"request"`
	Response *dialect.Detail `json:"response"`
}

// startDetailHost starts a whole host with cfg on loopback for the test.
func startDetailHost(t *testing.T, cfg sim.Config) *liveHost { return startLiveWith(t, cfg) }

// TestLiveExchangeDetail: a sale in full over real HTTP, in both dialects:
// the entry as GET /journal has it, and both messages field by field and as
// raw bytes, the card number masked everywhere.
func TestLiveExchangeDetail(t *testing.T) {
	pan := terminal.DefaultCard.PAN
	for _, tt := range []struct {
		dialect              string
		reqPreamble, respPre string
	}{
		{"iso87ascii", "", ""},
		// The reply swaps the TPDU's addresses.
		{"cup", "6000030000603100000000", "6000000003603100000000"},
	} {
		t.Run(tt.dialect, func(t *testing.T) {
			h := startDetailHost(t, sim.Config{Dialect: tt.dialect})
			term := h.terminal(t, "DETL0001")
			approve(t, "sign-on")(term.SignOn())
			x := approve(t, "sale")(term.Sale(1234))
			sales := h.journal(t, "txn=sale")
			if len(sales) != 1 {
				t.Fatalf("%d sales journalled", len(sales))
			}
			sale := sales[0]

			status, body := h.call(t, http.MethodGet, "/journal/"+strconv.FormatUint(sale.Seq, 10), "")
			if status != http.StatusOK {
				t.Fatalf("status %d; body %s", status, body)
			}
			// The card number shows nowhere: in clear, as ASCII in hex, or
			// as BCD (whose hex is its digits).
			for _, clear := range []string{pan, strings.ToUpper(hex.EncodeToString([]byte(pan))), terminal.DefaultCard.Track2} {
				if strings.Contains(strings.ToUpper(string(body)), clear) {
					t.Errorf("the answer holds %s in clear:\n%s", clear, body)
				}
			}
			var got exchangeBody
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
			if got.Entry != sale {
				t.Errorf("entry\n got %+v\nwant %+v (as GET /journal has it)", got.Entry, sale)
			}
			if got.Request == nil || got.Response == nil {
				t.Fatalf("request %v, response %v; want both", got.Request, got.Response)
			}

			for _, m := range []struct {
				what     string
				d        *dialect.Detail
				mti, pre string
				packed   func() ([]byte, error)
				want     map[int]string
			}{
				{"request", got.Request, "0200", tt.reqPreamble, x.Request.Pack, map[int]string{
					2: "476173******0010", 4: "000000001234", 11: sale.STAN, 35: "476173******0010=" + strings.Repeat("*", len(terminal.DefaultCard.Track2)-17),
				}},
				{"response", got.Response, "0210", tt.respPre, x.Response.Pack, map[int]string{
					2: "476173******0010", 11: sale.STAN, 37: sale.RRN, 39: "00",
				}},
			} {
				if m.d.MTI != m.mti || m.d.Preamble != m.pre || m.d.Error != "" {
					t.Errorf("%s: MTI %q, preamble %q, error %q; want %s, %q, none", m.what, m.d.MTI, m.d.Preamble, m.d.Error, m.mti, m.pre)
				}
				fields := map[int]string{}
				for _, f := range m.d.Fields {
					fields[f.ID] = f.Value
				}
				for id, want := range m.want {
					if fields[id] != want {
						t.Errorf("%s field %d: %q, want %q", m.what, id, fields[id], want)
					}
				}
				// The hex is the frame the terminal sent or got, card bytes masked.
				packed, err := m.packed()
				if err != nil {
					t.Fatal(err)
				}
				frame := strings.ToUpper(m.pre + hex.EncodeToString(packed))
				if len(m.d.Hex) != len(frame) || !strings.Contains(m.d.Hex, "**") {
					t.Fatalf("%s hex\n got %s\nwant %s, masked", m.what, m.d.Hex, frame)
				}
				n := len(frame)
				if x.Request.GetField(64) != nil {
					n -= 16 // F64: the terminal's message holds zeros where the MAC went on the wire
				}
				for i := 0; i < n; i += 2 {
					if pair := m.d.Hex[i : i+2]; pair != "**" && pair != frame[i:i+2] {
						t.Fatalf("%s hex\n got %s\nwant %s, masked", m.what, m.d.Hex, frame)
					}
				}
			}
		})
	}
}

// TestLiveExchangeDetailNotFound: an entry the ring no longer holds, one
// that never was, and one without frames are not found; what is not a
// number is a bad request.
func TestLiveExchangeDetailNotFound(t *testing.T) {
	h := startDetailHost(t, sim.Config{JournalSize: 3})
	term := h.terminal(t, "DETL0002")
	approve(t, "sign-on")(term.SignOn())
	approve(t, "sale")(term.Sale(100))
	sale := h.journal(t, "txn=sale")[0]
	if status, body := h.call(t, http.MethodGet, fmt.Sprintf("/journal/%d", sale.Seq), ""); status != http.StatusOK {
		t.Fatalf("the sale while the ring holds it: status %d; body %s", status, body)
	}

	// A frame too large for the host: journalled, without a frame.
	c, err := net.Dial("tcp", h.sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte{0xFF, 0xFF})
	io.Copy(io.Discard, c) // until the host hangs up, having journalled it
	c.Close()
	es := h.journal(t, "")
	broken := es[len(es)-1]
	if broken.Error == "" {
		t.Fatalf("the last entry %+v, want the oversized frame's", broken)
	}

	// Two echoes push the sale out of the ring of three; the oversized
	// frame's entry stays.
	for i := 0; i < 2; i++ {
		approve(t, "echo")(term.Echo())
	}
	latest := h.journal(t, "")
	if status, body := h.call(t, http.MethodGet, fmt.Sprintf("/journal/%d", latest[len(latest)-1].Seq), ""); status != http.StatusOK {
		t.Fatalf("the latest exchange: status %d; body %s", status, body)
	}

	for _, tt := range []struct {
		path   string
		status int
		says   string
	}{
		{fmt.Sprintf("/journal/%d", sale.Seq), http.StatusNotFound, "left the journal's ring"},
		{fmt.Sprintf("/journal/%d", broken.Seq), http.StatusNotFound, "has no frames"},
		{"/journal/0", http.StatusNotFound, "no entry 0"},
		{"/journal/99999", http.StatusNotFound, "no entry 99999"},
		{"/journal/abc", http.StatusBadRequest, "seq"},
		{"/journal/-1", http.StatusBadRequest, "seq"},
	} {
		status, body := h.call(t, http.MethodGet, tt.path, "")
		var e struct{ Error string }
		if err := json.Unmarshal(body, &e); status != tt.status || err != nil || !strings.Contains(e.Error, tt.says) {
			t.Errorf("GET %s: status %d, body %s; want %d saying %q", tt.path, status, body, tt.status, tt.says)
		}
	}
}

// TestLiveExchangeDetailToken: the detail needs the token like the journal.
func TestLiveExchangeDetailToken(t *testing.T) {
	h := startLive(t, "detail-token")
	term := h.terminal(t, "DETL0003")
	approve(t, "sign-on")(term.SignOn())
	path := fmt.Sprintf("/journal/%d", h.journal(t, "")[0].Seq)
	for auth, want := range map[string]int{"": http.StatusUnauthorized, "Bearer wrong": http.StatusUnauthorized, "Bearer detail-token": http.StatusOK} {
		resp := h.request(t, http.MethodGet, path, auth, "")
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s with %q: status %d, want %d", path, auth, resp.StatusCode, want)
		}
	}
}
