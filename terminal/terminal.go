// Package terminal is a POS terminal emulator: it signs on, transacts,
// reverses and settles against any ISO 8583 host in either dialect, keeping its
// own record of the batch as a real terminal does. `acqsim send` and acqsim's
// end-to-end tests both drive hosts with it.
package terminal

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/txn"
)

// Config describes the terminal and where its host is.
type Config struct {
	Addr    string
	Dialect *dialect.Dialect
	Header  dialect.LengthHeader
	TID     string // 8 characters
	MID     string // 15 characters
	// Card is the test card every transaction uses.
	Card Card
	// Currency is F49; empty means the dialect's default.
	Currency string
	// TPDU and CUPHeader are the cup preamble; empty means 60 0003 0000 and
	// 60 31 00 00 00 00. Where the dialect's TPDU is optional (iso87bcd),
	// requests carry one only when TPDU is given.
	TPDU, CUPHeader []byte
	// KeyVariant is the cup sign-on's 60.3: 001, 003 (default) or 004.
	KeyVariant string
	// MasterKey is the terminal master key the cup working keys arrive
	// encrypted under; nil means keys.TestMasterKey.
	MasterKey []byte
	// Timeout is how long to wait for each response; zero means 30 s.
	Timeout time.Duration
	// TLS, when set, connects over TLS with this configuration (trusted CAs,
	// client certificate); nil connects over plain TCP. An empty ServerName
	// is taken from Addr.
	TLS *tls.Config
	// ManualReversal leaves the pending reversal (State.Pending) to the
	// caller's SendPendingReversal. By default the terminal sends it itself
	// before its next online request and before settling, as terminals do.
	ManualReversal bool
}

// Card is a test card.
type Card struct {
	PAN    string
	Expiry string // YYMM
	// Track2 is sent as F35 when set.
	Track2 string
	// EntryMode is F22; empty is 021 with a track, 012 without (keyed).
	EntryMode string
	// Chip, when set, is the card's chip: sales, pre-authorisations and
	// balance enquiries read it (F22 051), carry its cryptogram in F55 and
	// let it judge the issuer's answer. Its state (the ATC, a blocked
	// application) changes as a real card's does.
	Chip *emv.Card
	// Contactless taps the chip (F22 071) instead of inserting it.
	Contactless bool
}

// DefaultCard is a test card that real hosts and checkers accept.
var DefaultCard = Card{PAN: "4761739001010010", Expiry: "2512", Track2: "4761739001010010=25122011143804400000"}

// Terminal is a connected terminal. Its methods are meant to be called one at
// a time, as a real terminal sends one request and waits for its answer.
type Terminal struct {
	cfg   Config
	conn  *connection.Connection
	wire  *wireIO
	State State
}

// State is what a terminal remembers between transactions (and, for `acqsim
// send`, between runs): its trace number, its batch and what is in it, and
// the reversal it owes.
type State struct {
	STAN    int      `json:"stan"`
	Batch   string   `json:"batch"`
	Records []Record `json:"records"`
	// Pending is the transaction the terminal must reverse before it sends
	// anything else online, or nil.
	Pending *Reversal `json:"pending,omitempty"`
	// TCs are chip transactions of settled batches whose TC the host has
	// not acknowledged: they go again after the next settlement.
	TCs []Record `json:"tcs,omitempty"`
	// Chips are the chip cards' own state (the ATC, a blocked application),
	// by card profile: a card remembers between runs what it did.
	Chips map[string]emv.Card `json:"chips,omitempty"`
}

// Record is a transaction in the terminal's batch. It holds no card data.
type Record struct {
	Type   txn.Type `json:"type"`
	MTI    string   `json:"mti"`
	Proc   string   `json:"proc"`
	STAN   string   `json:"stan"`
	RRN    string   `json:"rrn"`
	Auth   string   `json:"auth"`
	Amount int64    `json:"amount"`
	Date   string   `json:"date"`  // MMDD
	Batch  string   `json:"batch"` // the batch it was booked in
	Voided bool     `json:"voided,omitempty"`
	// Orig is the STAN of what a void cancelled.
	Orig string `json:"orig,omitempty"`
	// TC is a chip card's final data (its TC, TVR, TSI, ATC) as F55 of
	// the TC upload carries it, in hex.
	TC string `json:"tc,omitempty"`
}

// Exchange is one request and its response.
type Exchange struct {
	Type     txn.Type
	Request  *iso8583.Message
	Response *iso8583.Message
	Latency  time.Duration
	// Requirement is the host's processing requirement in a cup response's
	// header (3: sign on again); 0 otherwise.
	Requirement byte
	// Reversals are the exchanges of the pending reversal the terminal sent
	// before this request.
	Reversals []*Exchange
	// Card is a chip card's decision on the answer, nil without a chip.
	Card *emv.Outcome
	// After are what the terminal sent because of the card's decision: the
	// advice of the issuer scripts' results, the reversal of what the card
	// declined.
	After []*Exchange
}

// RC is the response's F39.
func (x *Exchange) RC() string { return field(x.Response, 39) }

// Get returns a field of the response.
func (x *Exchange) Get(id int) string { return field(x.Response, id) }

// Dial connects to the host.
func Dial(ctx context.Context, cfg Config) (*Terminal, error) {
	if cfg.Dialect == nil {
		return nil, errors.New("terminal: no dialect")
	}
	if cfg.Header == "" {
		cfg.Header = dialect.Binary2
	}
	if cfg.Card.PAN == "" {
		cfg.Card = DefaultCard
	}
	if cfg.Currency == "" {
		cfg.Currency = cfg.Dialect.Currency
	}
	ownTPDU := len(cfg.TPDU) == 5
	if !ownTPDU {
		cfg.TPDU = []byte{0x60, 0x00, 0x03, 0x00, 0x00}
	}
	if len(cfg.CUPHeader) != 6 {
		cfg.CUPHeader = []byte{0x60, 0x31, 0x00, 0x00, 0x00, 0x00}
	}
	if cfg.KeyVariant == "" {
		cfg.KeyVariant = "003"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MasterKey == nil {
		cfg.MasterKey, _ = keys.Parse(keys.TestMasterKey)
	}
	io := &wireIO{d: cfg.Dialect, framer: cfg.Dialect.Framer(cfg.Header, 0)}
	switch {
	case cfg.Dialect.Preamble > 0:
		io.preamble = append(append([]byte{}, cfg.TPDU...), cfg.CUPHeader...)
	case cfg.Dialect.OptionalTPDU && ownTPDU:
		io.preamble = append([]byte{}, cfg.TPDU...)
	}
	c, err := connection.New(cfg.Addr, cfg.Dialect.Spec, nil, nil,
		connection.SetMessageReader(io),
		connection.SetMessageWriter(io),
		connection.SendTimeout(cfg.Timeout),
		connection.ErrorHandler(func(error) {}),
		connection.SetRequestIDGenerator(matchKey{}),
		// The caller's configuration as it is: SetTLSConfig would start from
		// the library's own and copy fields across.
		func(o *connection.Options) error { o.TLSConfig = cfg.TLS; return nil },
	)
	if err != nil {
		return nil, err
	}
	if err := c.ConnectCtx(ctx); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Addr, err)
	}
	return &Terminal{cfg: cfg, conn: c, wire: io, State: State{Batch: "000001"}}, nil
}

// matchKey pairs a response with its request as a terminal does (DOMAIN.md
// §5): by the response MTI, the STAN and the terminal ID, so that a stray
// answer (a duplicate 0210 while the reversal of that sale, same STAN, waits
// for its 0410) is not taken for the one awaited.
type matchKey struct{}

func (matchKey) GenerateRequestID(m *iso8583.Message) (string, error) {
	mti, err := m.GetMTI()
	if err != nil || len(mti) != 4 {
		return "", fmt.Errorf("no MTI to match on: %v", err)
	}
	if mti[2]%2 == 0 { // a request or advice: the response it awaits
		mti = dialect.ResponseMTI(mti)
	}
	stan := field(m, 11)
	if stan == "" {
		return "", errors.New("no STAN (F11) to match on")
	}
	return mti + "|" + stan + "|" + field(m, 41), nil
}

// Close hangs up.
func (t *Terminal) Close() error { return t.conn.Close() }

// wireIO frames messages for the connection: the length header, and in the
// cup dialect the TPDU and header.
type wireIO struct {
	d        *dialect.Dialect
	framer   dialect.Framer
	preamble []byte
	r        *bufio.Reader
	// macKey, once a cup sign-on delivered one, signs every request that
	// carries F64 (Terminal.Send writes the MAC into the message, so that
	// what is printed of it is what went).
	macKey []byte
	// requirement is the processing requirement of the last cup response
	// (the low nibble of its header's third byte).
	requirement atomic.Uint32
	// refused is why the last response that broke the dialect's spec was
	// refused: the connection ends with it, and Send says why.
	refused atomic.Pointer[error]
}

func (w *wireIO) ReadMessage(r io.Reader) (*iso8583.Message, error) {
	if w.r == nil {
		w.r = bufio.NewReader(r)
	}
	frame, err := w.framer.ReadFrame(w.r, nil)
	if err != nil {
		return nil, err
	}
	if w.d.Preamble >= 8 {
		w.requirement.Store(uint32(frame[7] & 0x0F))
	}
	// A strict terminal: a response with a field that breaks its spec, or
	// bytes after its last field, is refused whole.
	m, err := w.d.Decode(frame[w.d.PreambleOf(frame):])
	if err != nil {
		err = fmt.Errorf("response refused: it breaks the %s spec: %w", w.d.Name, err)
		w.refused.Store(&err)
		return nil, err
	}
	return m, nil
}

func (w *wireIO) WriteMessage(wr io.Writer, m *iso8583.Message) error {
	packed, err := m.Pack()
	if err != nil {
		return err
	}
	frame, err := w.framer.AppendFrame(nil, w.preamble, packed)
	if err != nil {
		return err
	}
	_, err = wr.Write(frame)
	return err
}

// Send sends a message as it is and waits for the response. It is the way to
// send what the other methods would not (a duplicate, a broken field).
func (t *Terminal) Send(typ txn.Type, req *iso8583.Message) (*Exchange, error) {
	if t.wire.macKey != nil && req.GetField(64) != nil {
		if err := t.sign(req); err != nil {
			return &Exchange{Type: typ, Request: req}, fmt.Errorf("%s: signing: %w", typ, err)
		}
	}
	start := time.Now()
	resp, err := t.conn.Send(req)
	x := &Exchange{Type: typ, Request: req, Response: resp, Latency: time.Since(start)}
	if resp != nil {
		x.Requirement = byte(t.wire.requirement.Load())
	}
	if errors.Is(err, connection.ErrSendTimeout) {
		err = noResponse{t.cfg.Timeout}
	}
	if err != nil {
		if refused := t.wire.refused.Load(); refused != nil {
			err = fmt.Errorf("%w (%w)", err, *refused)
		}
		return x, fmt.Errorf("%s: %w", typ, err)
	}
	if err := t.check(req, resp); err != nil {
		return x, fmt.Errorf("%s: %w", typ, err)
	}
	t.resolved(req)
	return x, nil
}

// resolved notes an answered request: when it is the pending transaction
// sent again, or a reversal of it, the terminal knows what the host did and
// owes no reversal any more.
func (t *Terminal) resolved(req *iso8583.Message) {
	p := t.State.Pending
	if p == nil || field(req, 11) != p.STAN {
		return
	}
	if mti, _ := req.GetMTI(); len(mti) == 4 && len(p.MTI) == 4 && (mti[:3] == p.MTI[:3] || mti[:2] == "04") {
		t.State.Pending = nil
	}
}

// check applies a strict terminal's acceptance rules: the MTI answers the
// request's, F3, F4, F11, F41 and F42 come back as sent where they were
// valid (dialect.CheckAnswer), and an approval's MAC verifies.
func (t *Terminal) check(req, resp *iso8583.Message) error {
	if err := t.cfg.Dialect.CheckAnswer(req, resp); err != nil {
		return err
	}
	// Terminals check the MAC of approvals only; a bad one makes them reverse (A0).
	if t.wire.macKey != nil && req.GetField(64) != nil && field(resp, 39) == txn.Approved {
		if resp.GetField(64) == nil {
			return ErrBadMAC
		}
		packed, err := resp.Pack()
		if err != nil {
			return err
		}
		want := append([]byte(nil), packed[len(packed)-8:]...)
		if err := sign(t.wire.macKey, packed); err != nil {
			return err
		}
		if string(packed[len(packed)-8:]) != string(want) {
			return ErrBadMAC
		}
	}
	return nil
}

// Signing reports whether the terminal holds a MAC key (a cup sign-on gave it
// one), so that its requests carry F64.
func (t *Terminal) Signing() bool { return t.wire.macKey != nil }

// UseMACKey replaces the MAC key the last sign-on delivered: a way to send
// requests with a wrong MAC on purpose. Nil stops signing requests.
func (t *Terminal) UseMACKey(key []byte) { t.wire.macKey = key }

// ErrBadMAC reports an approval whose MAC does not verify: a real terminal
// reverses the transaction with reason A0.
var ErrBadMAC = errors.New("response MAC does not verify")

// sign writes the MAC of a request, whose last field is an 8-byte F64, into
// its F64.
func (t *Terminal) sign(m *iso8583.Message) error {
	packed, err := m.Pack()
	if err != nil {
		return err
	}
	if err := sign(t.wire.macKey, packed); err != nil {
		return err
	}
	m.BinaryField(64, packed[len(packed)-8:])
	return nil
}

// sign computes the MAC of a packed message whose last field is an 8-byte F64
// and writes it there.
func sign(key, packed []byte) error {
	if len(packed) < 8 {
		return errors.New("message too short to carry a MAC")
	}
	mac, err := keys.MAC(key, packed[:len(packed)-8])
	if err != nil {
		return err
	}
	copy(packed[len(packed)-8:], mac)
	return nil
}

func field(m *iso8583.Message, id int) string { return dialect.FieldValue(m, id) }

func (t *Terminal) nextSTAN() string {
	t.State.STAN = t.State.STAN%999999 + 1
	return fmt.Sprintf("%06d", t.State.STAN)
}

// ParseAmount reads "12.34" (major units, up to two decimals) as minor units.
func ParseAmount(s string) (int64, error) {
	whole, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			whole, frac = s[:i], s[i+1:]
			break
		}
	}
	if whole == "" || len(frac) > 2 {
		return 0, fmt.Errorf("amount %q: want a number with at most two decimals", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseUint(whole+frac, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("amount %q: want a number with at most two decimals", s)
	}
	return int64(n), nil
}
