package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moov-io/iso8583/encoding"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// secretCard is a test card whose digits are easy to recognise anywhere.
var secretCard = terminal.Card{
	PAN:    "4761731234567890",
	Expiry: "2912",
	Track2: "4761731234567890=29122011234599999999",
}

// secret is something that must never leave the host's memory: its name
// says what it is, without saying it.
type secret struct {
	name string
	b    []byte
}

// cardSecrets are the forms of the card data looked for in text: the clear
// PAN, the track's discretionary part, the PAN's hidden middle digits with a
// neighbour (first six or last four), and the ASCII PAN as hex.
func cardSecrets() []secret {
	pan := secretCard.PAN
	_, disc, _ := strings.Cut(secretCard.Track2, "=")
	disc = disc[4:] // after YYMM: service code and discretionary data
	return []secret{
		{"clear PAN", []byte(pan)},
		{"track 2 discretionary data", []byte(disc)},
		{"PAN digits 1-12 (middle six exposed)", []byte(pan[:12])},
		{"PAN digits 7-16 (middle six exposed)", []byte(pan[6:])},
		{"ASCII PAN as hex", []byte(hex.EncodeToString([]byte(pan)))},
		{"ASCII PAN as HEX", []byte(strings.ToUpper(hex.EncodeToString([]byte(pan))))},
	}
}

// middleSix finds the PAN's middle six digits standing on their own, or next
// to a masking character.
var middleSix = regexp.MustCompile(`(^|[^0-9])` + secretCard.PAN[6:12] + `([^0-9]|$)|[*xX#]` + secretCard.PAN[6:12] + `|` + secretCard.PAN[6:12] + `[*xX#]`)

// binarySecrets add the packed BCD forms (the cup wire format) for binary
// files.
func binarySecrets(t *testing.T) []secret {
	t.Helper()
	pan := secretCard.PAN
	_, disc, _ := strings.Cut(secretCard.Track2, "=")
	disc = disc[4:]
	mustHex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return append(cardSecrets(),
		secret{"packed BCD PAN", mustHex(pan)},
		secret{"packed BCD PAN digits 7-16", mustHex(pan[6:])},
		secret{"packed BCD PAN digits 1-12", mustHex(pan[:12])},
		// The discretionary data, on either nibble alignment.
		secret{"packed BCD track 2 discretionary data", mustHex(disc)},
		secret{"packed BCD track 2 discretionary data (odd)", mustHex(disc[1:15])},
	)
}

// masked is a context around a find, with every digit and letter hidden, so
// that a failure message does not print the secret.
func masked(b []byte, at, n int) string {
	lo, hi := max(0, at-40), min(len(b), at+n+40)
	out := make([]byte, 0, hi-lo)
	for i, c := range b[lo:hi] {
		switch {
		case lo+i >= at && lo+i < at+n:
			out = append(out, '#')
		case c >= '0' && c <= '9':
			out = append(out, 'd')
		case c < 0x20 || c >= 0x7f:
			out = append(out, '.')
		default:
			out = append(out, c)
		}
	}
	return fmt.Sprintf("%q", out)
}

// leakChecker collects every place searched and reports the finds.
type leakChecker struct {
	t       *testing.T
	secrets []secret
	places  int
}

// check searches b; text adds the middle-six pattern, which is for text only.
func (c *leakChecker) check(place string, b []byte, text bool) {
	c.t.Helper()
	c.places++
	for _, s := range c.secrets {
		if i := bytes.Index(b, s.b); i >= 0 {
			c.t.Errorf("%s holds the %s (%d occurrence(s)); context: %s", place, s.name, bytes.Count(b, s.b), masked(b, i, len(s.b)))
		}
	}
	if text {
		if loc := middleSix.FindIndex(b); loc != nil {
			c.t.Errorf("%s holds the PAN's middle six digits; context: %s", place, masked(b, loc[0], loc[1]-loc[0]))
		}
	}
}

// lockedBuffer is a log destination safe for concurrent writers and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// TestNoCardDataAnywhere drives every flow, a malformed message, an
// out-of-balance settlement with its batch upload and every built-in
// scenario with a recognisable card, and then looks for its card data in
// everything the host gives out: logs, every admin response, the terminal's
// errors, and the journal file.
func TestNoCardDataAnywhere(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		for _, format := range []string{"text", "json"} {
			t.Run(dn+"/"+format, func(t *testing.T) {
				t.Parallel()
				testNoCardData(t, dn, format)
			})
		}
	}
}

func testNoCardData(t *testing.T, dn, format string) {
	logs := &lockedBuffer{}
	hopts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var handler slog.Handler = slog.NewTextHandler(logs, hopts)
	if format == "json" {
		handler = slog.NewJSONHandler(logs, hopts)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "journal.db")
	h, err := acqsimtest.Start(acqsimtest.Dialect(dn), acqsimtest.Logger(slog.New(handler)),
		acqsimtest.Configure(func(c *sim.Config) { c.JournalFile = file }))
	if err != nil {
		t.Fatal(err)
	}
	s := h.Sim()
	shutdown := func() {
		if err := h.Close(); err != nil {
			t.Logf("shutdown: %v", err)
		}
	}
	t.Cleanup(shutdown)

	var errs []string // every error a terminal call returned
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	connectCard := func(tid string, timeout time.Duration) *terminal.Terminal {
		t.Helper()
		term, err := terminal.Dial(context.Background(), terminal.Config{
			Addr: s.Addr(), Dialect: s.Dialect, Header: dialect.Binary2,
			TID: tid, MID: "898100012340001", Card: secretCard, Timeout: timeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { term.Close() })
		return term
	}
	want := func(what string, x *terminal.Exchange, err error, rc string) *terminal.Exchange {
		t.Helper()
		note(err)
		return expect(t, what, x, err, rc)
	}

	// Every everyday flow.
	const tid = "CARD0001"
	term := connectCard(tid, patience)
	x, err := term.SignOn()
	want("sign-on", x, err, txn.Approved)
	x, err = term.Echo()
	want("echo", x, err, txn.Approved)
	x, err = term.Sale(1500)
	want("sale", x, err, txn.Approved)
	x, err = term.Sale(700)
	want("second sale", x, err, txn.Approved)
	x, err = term.Void(term.Last(txn.Sale))
	want("void", x, err, txn.Approved)
	x, err = term.Refund(200, term.Last(txn.Sale))
	want("refund", x, err, txn.Approved)
	x, err = term.Balance()
	want("balance", x, err, txn.Approved)
	x, err = term.PreAuth(10000)
	want("pre-auth", x, err, txn.Approved)
	x, err = term.Completion(9000, term.Last(txn.PreAuth), false)
	want("completion", x, err, txn.Approved)
	x, err = term.PreAuth(100)
	want("pre-auth to complete by advice", x, err, txn.Approved)
	x, err = term.Completion(100, term.Last(txn.PreAuth), true)
	want("completion advice", x, err, txn.Approved)
	x, err = term.Advice(800)
	want("advice", x, err, txn.Approved)
	x, err = term.Sale(5000)
	sale := want("sale to reverse", x, err, txn.Approved)
	x, err = term.Reverse(sale.Get(11), 0, "98", false)
	want("reversal", x, err, txn.Approved)

	// A chip sale whose F55 carries the card number (5A) and its track 2
	// equivalent (57); its ARQC is another card's, so it is declined.
	track := strings.Replace(secretCard.Track2, "=", "D", 1) + "F"
	icc := emvCases(t)[0].F55Request + "5A08" + secretCard.PAN + fmt.Sprintf("57%02X", len(track)/2) + track
	chip, _, err := s.Dialect.Build(txn.Sale, dialect.Values{
		STAN: "777777", TID: tid, MID: "898100012340001", PAN: secretCard.PAN, Expiry: secretCard.Expiry,
		EntryMode: "051", CardSeq: "001", ICC: icc, Amount: 1500, Batch: term.State.Batch,
	})
	if err != nil {
		t.Fatal(err)
	}
	x, err = term.Send(txn.Sale, chip)
	want("chip sale with card data in F55", x, err, "05")

	// A malformed message: a sale whose amount (after the PAN) is broken.
	malformed(t, s, sale)

	// Settlement out of balance: the batch upload carries the card number.
	wrong := term.Totals()
	wrong.DebitAmount++
	xs, err := term.SettleWithTotals(wrong)
	note(err)
	if err != nil {
		t.Fatalf("settle: %v", err)
	}
	uploads := 0
	for _, x := range xs {
		if x.Type == txn.Upload {
			uploads++
		}
	}
	if uploads == 0 {
		t.Fatalf("the out-of-balance settlement sent no batch upload (%d exchanges)", len(xs))
	}
	x, err = term.SignOff()
	want("sign-off", x, err, txn.Approved)

	// Every built-in scenario in turn, one sale each (and a settlement for
	// those about settlement); timeouts and resets are what some are for.
	for i, sc := range s.Library.All() {
		s.Engine.SetGlobal(sc)
		st := connectCard(fmt.Sprintf("SCEN%04d", i), short)
		_, err := st.SignOn()
		note(err)
		_, err = st.Sale(1234)
		note(err)
		if strings.Contains(sc.Name, "settle") || strings.Contains(sc.Name, "upload") || strings.Contains(sc.Name, "balance") {
			wrong := st.Totals()
			wrong.DebitAmount++
			_, err = st.SettleWithTotals(wrong)
			note(err)
		}
		st.Close()
	}
	s.Engine.SetGlobal(nil)

	// What the admin API says.
	secrets := cardSecrets()
	lc := &leakChecker{t: t, secrets: secrets}
	base := "http://" + s.AdminAddr()
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		lc.check("GET "+path, b, true)
		return b
	}
	get("/journal")
	entries := s.Journal.Query(journal.Filter{})
	if len(entries) < 20 {
		t.Errorf("journal has %d entries, want every exchange", len(entries))
	}
	details := 0
	for _, e := range entries {
		if g, ok := s.Journal.Get(e.Seq); !ok || g.Request == "" {
			continue // no frames to show
		}
		get(fmt.Sprintf("/journal/%d", e.Seq))
		details++
	}
	if details == 0 {
		t.Error("no journal entry had frames to show")
	}
	// A control: the frames in memory hold the card data in the forms
	// searched for, so a leak of them would be found.
	var frames []byte
	for _, e := range entries {
		if g, ok := s.Journal.Get(e.Seq); ok {
			frames = append(append(frames, g.Request...), g.Response...)
		}
	}
	bs := binarySecrets(t)
	has := func(names ...string) bool {
		for _, sc := range bs {
			for _, n := range names {
				if sc.name == n && bytes.Contains(frames, sc.b) {
					return true
				}
			}
		}
		return false
	}
	if !has("clear PAN", "packed BCD PAN") {
		t.Error("control: the frames in memory hold the card number in no form searched for")
	}
	if !has("track 2 discretionary data", "packed BCD track 2 discretionary data", "packed BCD track 2 discretionary data (odd)") {
		t.Error("control: the frames in memory hold the track's discretionary data in no form searched for")
	}
	for _, p := range []string{
		"/settlements", "/settlements?format=csv", "/batches", "/batches?format=csv",
		"/verify?tid=" + tid, "/verify?tid=" + tid + "&txn=sale", "/scenarios", "/metrics", "/", "/console/console.js",
	} {
		get(p)
	}

	for i, e := range errs {
		lc.check(fmt.Sprintf("terminal error #%d", i), []byte(e), true)
	}

	// The journal file, once the host has closed it.
	term.Close()
	shutdown()
	lc.check(format+" logs", logs.Bytes(), true)

	bin := &leakChecker{t: t, secrets: binarySecrets(t)}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		bin.check("journal file "+f.Name(), b, false)
		found = found || f.Name() == "journal.db" && bytes.Contains(b, []byte(txn.MaskPAN(secretCard.PAN)))
	}
	if !found {
		t.Errorf("journal.db does not hold the masked card number: the file searched is not the journal")
	}
	t.Logf("searched %d places and %d files; %d journal entries, %d with frames, %d terminal errors, %d bytes of logs",
		lc.places, bin.places, len(entries), details, len(errs), len(logs.Bytes()))
}

// malformed sends, on a connection of its own, a copy of a sale whose amount
// (F4, after the PAN) does not decode or is not digits, and reads the answer.
func malformed(t *testing.T, s *sim.Sim, sale *terminal.Exchange) {
	t.Helper()
	m, err := sale.Request.Clone()
	if err != nil {
		t.Fatal(err)
	}
	m.UnsetField(64)
	m.Field(11, "900001")
	m.Field(4, "000000987654")
	packed, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	good, bad := []byte("000000987654"), []byte("00000098765X")
	if s.Dialect.Spec.Fields[4].Spec().Enc != encoding.ASCII { // BCD
		good, bad = []byte{0x98, 0x76, 0x54}, []byte{0x98, 0x76, 0x5A}
	}
	i := bytes.Index(packed, good)
	if i < 0 {
		t.Fatal("the amount is not where it should be in the packed sale")
	}
	copy(packed[i:], bad)
	var preamble []byte
	if s.Dialect.Preamble > 0 {
		preamble = []byte{0x60, 0x00, 0x03, 0x00, 0x00, 0x60, 0x31, 0x00, 0x00, 0x00, 0x00}
	}
	framer := s.Dialect.Framer(dialect.Binary2, 0)
	frame, err := framer.AppendFrame(nil, preamble, packed)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", s.Addr(), patience)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(patience))
	if _, err := conn.Write(frame); err != nil {
		t.Fatalf("writing the malformed frame: %v", err)
	}
	resp, err := framer.ReadFrame(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the malformed frame: %v", err)
	}
	msg, err := s.Dialect.Decode(resp[s.Dialect.Preamble:])
	if err != nil {
		t.Fatalf("the answer to the malformed frame does not decode: %v", err)
	}
	if rc := field(msg, 39); rc != txn.FormatError {
		t.Errorf("malformed frame answered RC %q, want %s", rc, txn.FormatError)
	}
}
