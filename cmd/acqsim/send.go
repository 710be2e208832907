package main

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/spf13/cobra"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

type sendFlags struct {
	host         string
	dialect      string
	lengthHeader string
	tid, mid     string
	pan, expiry  string
	track2       string
	noTrack      bool
	amount       string
	amountSet    bool
	rrn, stan    string
	reason       string
	advice       bool
	keyVariant   string
	masterKey    string
	tpdu         string
	timeout      time.Duration
	stateDir     string
	resetState   bool
	mac          bool
	reasonSet    bool
	count        int
	verbose      bool
	tls          bool
	tlsCA        string
	tlsCert      string
	tlsKey       string
	tlsInsecure  bool
	chip         bool
	cardProfile  string
	cardsFile    string
	contactless  bool
	fallback     bool
}

// flows are what `acqsim send` can do.
var flows = []string{"signon", "signoff", "echo", "sale", "void", "refund", "balance",
	"preauth", "preauth-void", "completion", "completion-void", "advice", "reversal", "settle"}

func newSend() *cobra.Command {
	var f sendFlags
	cmd := &cobra.Command{
		Use:   "send FLOW",
		Short: "Act as a terminal: send one flow to a host and print the exchange",
		Long: `Act as a POS terminal against any ISO 8583 host (acqsim or another) and print
each exchange, card numbers masked. FLOW is one of:
  ` + strings.Join(flows, ", ") + `
The terminal remembers its trace number, batch and booked transactions between
runs in --state-dir, one state for each host, dialect, merchant and terminal,
so "void" voids the last sale, "reversal" reverses the last transaction and
"settle" settles the batch from its own record (settlement request, batch
upload when out of balance, end of batch). A request that gets no answer (or
an approval whose MAC does not verify) is the terminal's pending reversal:
it is sent before the next transaction or settlement, retried up to 3 times,
and "reversal" sends it.`,
		Example: `  acqsim send signon
  acqsim send sale --amount 12.34
  acqsim send sale --chip --card visa-cvn18       # a chip sale: ARQC sent, ARPC checked
  acqsim send sale --contactless --amount 1500    # tap
  acqsim send void
  acqsim send settle
  acqsim send sale --dialect cup --mac          # sign on, then a sale with a MAC
  acqsim send echo --reset-state                # start the terminal afresh
  acqsim send sale --amount 1 --count 10000     # measure one client's throughput`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(flows, args[0]) {
				return usagef("send needs one FLOW: %s", strings.Join(flows, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f.amountSet = cmd.Flags().Changed("amount")
			f.reasonSet = cmd.Flags().Changed("reason")
			return send(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "127.0.0.1:8583", "the host's `address`")
	fl.StringVar(&f.dialect, "dialect", "iso87ascii", "wire dialect: "+oneOf(fixtures.DialectNames()))
	fl.StringVar(&f.lengthHeader, "length-header", "binary2", "frame length header: binary2, ascii4 or bcd2")
	fl.StringVar(&f.tid, "tid", "TERM0001", "terminal ID (F41, 8 characters)")
	fl.StringVar(&f.mid, "mid", "898100012340001", "merchant ID (F42, 15 characters)")
	fl.StringVar(&f.pan, "pan", terminal.DefaultCard.PAN, "card number")
	fl.StringVar(&f.expiry, "expiry", terminal.DefaultCard.Expiry, "card expiry (YYMM)")
	fl.StringVar(&f.track2, "track2", "", "track 2 data (default: built from --pan and --expiry)")
	fl.BoolVar(&f.noTrack, "manual", false, "key the card in (no track 2, F22 012)")
	fl.StringVar(&f.amount, "amount", "1.00", "amount in major units, e.g. 12.34 (void: default the original's)")
	fl.StringVar(&f.rrn, "rrn", "", "void: RRN of the original (default the last sale)")
	fl.StringVar(&f.stan, "stan", "", "reversal: STAN of the original (default the pending reversal, else the last transaction)")
	fl.StringVar(&f.reason, "reason", "98", "reversal reason (F39): 98 no response, A0 MAC error, 06 other (default the pending reversal's)")
	fl.BoolVar(&f.advice, "advice", false, "completion as an advice (0220); reversal as 0420")
	fl.StringVar(&f.keyVariant, "key-variant", "003", "cup sign-on 60.3: 001, 003 or 004")
	fl.StringVar(&f.masterKey, "master-key", keys.TestMasterKey, "terminal master key in hex, to decrypt and check the cup working keys")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for each response")
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "where the terminal keeps its state between runs (empty: keep none)")
	fl.BoolVar(&f.resetState, "reset-state", false, "forget the terminal's state for this host first: trace number, batch, pending reversal")
	fl.StringVar(&f.tpdu, "tpdu", "", "TPDU in hex (5 bytes): cup's (default 6000030000), or one sent before each iso87bcd message (default none)")
	fl.BoolVar(&f.mac, "mac", false, "cup: sign on first, sign each request with the working MAC key (F64) and check the MAC of approvals")
	fl.IntVar(&f.count, "count", 1, "send the flow this many times and print throughput and latency")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print every field of each message (card data masked)")
	fl.BoolVar(&f.tls, "tls", false, "connect over TLS (implied by the other --tls-* flags)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "trust the host certificates this CA `file` (PEM) signed (default the system's roots)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "client certificate `file` (PEM) to present, with --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key `file` (PEM) of --tls-cert")
	fl.BoolVar(&f.tlsInsecure, "tls-insecure", false, "do not verify the host's certificate (self-signed test hosts)")
	fl.BoolVar(&f.chip, "chip", false, "read a chip card (F22 051): its cryptogram in F55, its decision on the host's answer (a card declining what the host approved is reversed, 06)")
	fl.StringVar(&f.cardProfile, "card", "", "with --chip, --contactless or --fallback: the card `profile` to play (its test card and keys; default emv-csk): "+strings.Join(emv.Builtin().Names(), ", "))
	fl.StringVar(&f.cardsFile, "cards", "", "card profiles from this YAML `file`, as serve --cards")
	fl.BoolVar(&f.contactless, "contactless", false, "tap the chip card (F22 071); implies --chip")
	fl.BoolVar(&f.fallback, "fallback", false, "swipe the chip card because its chip cannot be read (F22 801, track 2 service code 201)")
	return cmd
}

func defaultStateDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "acqsim")
}

func send(cmd *cobra.Command, flow string, f sendFlags) error {
	out := cmd.OutOrStdout()
	d, err := fixtures.Dialect(f.dialect)
	if err != nil {
		return usageError{err}
	}
	lh, err := dialect.ParseLengthHeader(f.lengthHeader)
	if err != nil {
		return usageError{err}
	}
	amt, err := terminal.ParseAmount(f.amount)
	if err != nil {
		return usageError{err}
	}
	if len(f.tid) != 8 || len(f.mid) != 15 {
		return usagef("--tid must be 8 characters and --mid 15")
	}
	if f.count < 1 {
		return usagef("--count must be at least 1")
	}
	if _, ok := keys.WorkingKeyLength[f.keyVariant]; !ok {
		return usagef("--key-variant %q: want 001, 003 or 004", f.keyVariant)
	}
	master, err := keys.Parse(f.masterKey)
	if err != nil {
		return usagef("--master-key: %v", err)
	}
	if f.mac && d.MAC == nil {
		return usagef("--mac: the %s dialect carries no MAC (its hosts neither sign nor check F64); MACs are a cup feature", d.Name)
	}
	var tpdu []byte
	if f.tpdu != "" {
		if d.Preamble == 0 && !d.OptionalTPDU {
			return usagef("--tpdu: the %s dialect carries no TPDU", d.Name)
		}
		if tpdu, err = hex.DecodeString(f.tpdu); err != nil || len(tpdu) != 5 {
			return usagef("--tpdu %q: want 5 bytes in hex, as 6000030000", f.tpdu)
		}
	}
	card := terminal.Card{PAN: f.pan, Expiry: f.expiry, Track2: f.track2}
	if card.Track2 == "" && !f.noTrack {
		card.Track2 = f.pan + "=" + f.expiry + "2011000000000"
	}
	if f.noTrack {
		card.Track2 = ""
	}
	profile, err := chipProfile(f)
	if err != nil {
		return err
	}
	if profile != nil {
		tc := profile.Card
		card = terminal.Card{PAN: tc.PAN, Expiry: tc.Expiry, Track2: tc.PAN + "=" + tc.Expiry + tc.ServiceCode + "0000000000"}
		if f.fallback {
			card.EntryMode = "801" // swiped: the chip could not be read
		} else {
			card.Chip = profile.NewCard()
			card.Contactless = f.contactless
		}
	}

	tlsCfg, err := clientTLS(f)
	if err != nil {
		return err
	}

	term, err := terminal.Dial(cmd.Context(), terminal.Config{
		Addr: f.host, Dialect: d, Header: lh, TID: f.tid, MID: f.mid, Card: card,
		KeyVariant: f.keyVariant, MasterKey: master, Timeout: f.timeout, TLS: tlsCfg, TPDU: tpdu,
	})
	if err != nil {
		return err
	}
	defer term.Close()
	statePath := ""
	if f.stateDir != "" {
		statePath = filepath.Join(f.stateDir, terminal.StateFile(f.host, f.dialect, f.mid, f.tid))
		if f.resetState {
			if err := os.Remove(statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("resetting the terminal state: %w", err)
			}
		}
		if err := terminal.LoadState(statePath, &term.State); err != nil {
			return err
		}
	}
	term.LoadChip() // the card's own state (ATC, blocked) from the terminal's
	defer func() {
		term.KeepChip()
		if statePath != "" {
			if err := term.State.Save(statePath); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "acqsim: saving terminal state: %v\n", err)
			}
		}
	}()

	if f.mac && flow != "signon" {
		// The working MAC key lives as long as the run: sign on for it.
		xs, err := signed(term.SignOn())
		for _, x := range xs {
			printExchange(out, d, x, f.verbose)
		}
		if err != nil {
			return err
		}
	}
	if f.count > 1 {
		return sendMany(out, term, flow, f, amt)
	}
	pending := term.State.Pending
	xs, err := runFlow(term, flow, f, amt)
	for _, x := range xs {
		printExchange(out, d, x, f.verbose)
	}
	if p := term.State.Pending; err != nil && p != nil && p != pending {
		err = fmt.Errorf("%w; the terminal reverses %s %s before its next transaction (or now: acqsim send reversal)", err, p.Type, p.STAN)
	}
	return err
}

// chipProfile is the card profile --chip, --contactless or --fallback plays,
// nil without one of them.
func chipProfile(f sendFlags) (*emv.Profile, error) {
	if !f.chip && !f.contactless && !f.fallback {
		if f.cardProfile != "" {
			return nil, usagef("--card %q: with --chip, --contactless or --fallback", f.cardProfile)
		}
		return nil, nil
	}
	if f.fallback && (f.chip || f.contactless) {
		return nil, usagef("--fallback swipes the card: not with --chip or --contactless")
	}
	cards := emv.Builtin()
	if f.cardsFile != "" {
		raw, err := os.ReadFile(f.cardsFile)
		if err != nil {
			return nil, usagef("--cards: %v", err)
		}
		if cards, err = emv.LoadProfiles(f.cardsFile, raw); err != nil {
			return nil, usageError{err}
		}
	}
	name := cmp.Or(f.cardProfile, string(emv.CommonCore))
	p := cards.Named(name)
	if p == nil {
		return nil, usagef("--card %q: want one of %s", name, strings.Join(cards.Names(), ", "))
	}
	if p.Card.PAN == "" {
		return nil, usagef("--card %q: the profile has no test card (card: {pan: ...})", name)
	}
	return p, nil
}

// signed checks that a --mac sign-on gave the terminal a MAC key.
func signed(x *terminal.Exchange, err error) ([]*terminal.Exchange, error) {
	if x == nil {
		return nil, err
	}
	xs := []*terminal.Exchange{x}
	switch {
	case err != nil:
		return xs, fmt.Errorf("--mac: %w", err)
	case x.RC() != txn.Approved:
		return xs, fmt.Errorf("--mac: sign-on answered RC %s (%s): no MAC key", x.RC(), txn.RCText(x.RC()))
	case x.Response.GetField(62) == nil:
		return xs, errors.New("--mac: the sign-on brought no working keys (F62)")
	}
	return xs, nil
}

// clientTLS is the terminal's TLS configuration from the --tls flags, or nil
// for plain TCP.
func clientTLS(f sendFlags) (*tls.Config, error) {
	if !f.tls && f.tlsCA == "" && f.tlsCert == "" && f.tlsKey == "" && !f.tlsInsecure {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.tlsInsecure}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, usagef("--tls-ca: %v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("--tls-ca %s: no PEM certificate in it", f.tlsCA)
		}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, usagef("--tls-cert/--tls-key: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// runFlow performs one flow and returns its exchanges.
func runFlow(term *terminal.Terminal, flow string, f sendFlags, amt int64) ([]*terminal.Exchange, error) {
	// one lists an exchange after the pending reversal sent before it; a
	// request held back by a reversal that got no answer is not listed.
	one := func(x *terminal.Exchange, err error) ([]*terminal.Exchange, error) {
		if x == nil {
			return nil, err
		}
		xs := append([]*terminal.Exchange(nil), x.Reversals...)
		if !errors.Is(err, terminal.ErrReversalPending) {
			xs = append(xs, x)
		}
		return append(xs, x.After...), err
	}
	switch flow {
	case "signon":
		return one(term.SignOn())
	case "signoff":
		return one(term.SignOff())
	case "echo":
		return one(term.Echo())
	case "sale":
		return one(term.Sale(amt))
	case "refund":
		return one(term.Refund(amt, term.Last(txn.Sale, txn.Completion)))
	case "balance":
		return one(term.Balance())
	case "preauth":
		return one(term.PreAuth(amt))
	case "advice":
		return one(term.Advice(amt))
	case "completion":
		return one(term.Completion(amt, term.Last(txn.PreAuth), f.advice))
	case "void", "preauth-void", "completion-void":
		types := txn.Of(txn.Void).Voids
		switch flow {
		case "preauth-void":
			types = txn.Of(txn.PreAuthVoid).Voids
		case "completion-void":
			types = txn.Of(txn.CompletionVoid).Voids
		}
		orig := term.Last(types...)
		if f.rrn != "" {
			orig = nil
			for i := range term.State.Records {
				if term.State.Records[i].RRN == f.rrn {
					orig = &term.State.Records[i]
				}
			}
			if orig == nil { // not in the terminal's record: void it by RRN alone
				orig = &terminal.Record{Type: types[0], RRN: f.rrn, Amount: amt, Batch: term.State.Batch}
			}
		}
		if orig == nil {
			return nil, usagef("%s: nothing to void in the terminal's batch; give --rrn", flow)
		}
		if f.amountSet && amt != orig.Amount {
			// What was asked, not what was booked: a void for another
			// amount is a test of the host (64).
			asked := *orig
			asked.Amount = amt
			orig = &asked
		}
		return one(term.Void(orig))
	case "reversal":
		p, stan, reason := term.State.Pending, f.stan, f.reason
		if p != nil && (stan == "" || stan == p.STAN) {
			if !f.amountSet && !f.reasonSet && !f.advice {
				return term.SendPendingReversal()
			}
			stan = p.STAN
			if !f.reasonSet {
				reason = p.Reason
			}
		}
		if stan == "" {
			if len(term.State.Records) == 0 {
				return nil, usagef("reversal: nothing to reverse: no reversal is pending and the terminal's batch is empty; give --stan and --amount")
			}
			stan = term.State.Records[len(term.State.Records)-1].STAN
		}
		return one(term.Reverse(stan, amtIfSet(f, amt), reason, f.advice))
	case "settle":
		xs, err := term.Settle()
		var all []*terminal.Exchange
		for _, x := range xs {
			all = append(append(all, x.Reversals...), x)
		}
		return all, err
	}
	return nil, usagef("unknown flow %q", flow)
}

// amtIfSet is --amount when given explicitly for a reversal, else 0 (the
// original's amount).
func amtIfSet(f sendFlags, amt int64) int64 {
	if !f.amountSet {
		return 0
	}
	return amt
}

// sendMany repeats a flow on one connection, one request at a time, and
// reports what one terminal-like client gets from the host.
func sendMany(out io.Writer, term *terminal.Terminal, flow string, f sendFlags, amt int64) error {
	lat := make([]time.Duration, 0, f.count)
	rcs := map[string]int{}
	start := time.Now()
	for i := 0; i < f.count; i++ {
		xs, err := runFlow(term, flow, f, amt)
		if err != nil {
			return fmt.Errorf("after %d: %w", i, err)
		}
		for _, x := range xs {
			lat = append(lat, x.Latency)
			rcs[x.RC()]++
		}
	}
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Fprintf(out, "%d exchanges in %v: %.0f/s; latency p50 %v p99 %v max %v; RC %v\n",
		len(lat), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(),
		pct(0.50), pct(0.99), lat[len(lat)-1], rcs)
	return nil
}

func printExchange(w io.Writer, d *dialect.Dialect, x *terminal.Exchange, verbose bool) {
	req, reqErr := detail(d, x.Request)
	fmt.Fprintf(w, "-> %s %-12s %s\n", mtiOf(x.Request), x.Type, summary(req))
	if verbose {
		describe(w, req, reqErr)
	}
	if x.Response == nil {
		fmt.Fprintf(w, "<- no response\n")
		return
	}
	resp, respErr := detail(d, x.Response)
	rc := x.RC()
	fmt.Fprintf(w, "<- %s RC %s %-22s %s (%v)\n", mtiOf(x.Response), rc, txn.RCText(rc), summary(resp), x.Latency.Round(time.Microsecond))
	if verbose {
		describe(w, resp, respErr)
	}
	if c := x.Card; c != nil {
		fmt.Fprintf(w, "   card: %s\n", cardDecision(c))
	}
}

// cardDecision says what a chip card decided at its second GENERATE AC.
func cardDecision(o *emv.Outcome) string {
	s := "declined (AAC)"
	if o.Approved {
		s = "approved (TC)"
	}
	if o.Why != "" {
		s += ": " + o.Why
	}
	for _, r := range o.Scripts {
		status := "ran"
		if !r.OK {
			status = "refused"
		}
		s += fmt.Sprintf("; script %d %s %s", r.ID, r.Command, status)
		if r.Why != "" {
			s += " (" + r.Why + ")"
		}
	}
	return s
}

// detail reads a message as the host's detail view does
// (dialect.Dialect.Describe), card data masked: one masking policy, the
// dialect's, for everything acqsim shows.
func detail(d *dialect.Dialect, m *iso8583.Message) (dialect.Detail, error) {
	packed, err := m.Pack()
	if err != nil {
		return dialect.Detail{}, err
	}
	// Describe reads a frame as the journal keeps it: the preamble (cup's
	// TPDU and header, not kept with the message here) first.
	return d.Describe(append(make([]byte, d.Preamble), packed...)), nil
}

// describe prints every field of a message's detail.
func describe(w io.Writer, dt dialect.Detail, err error) {
	if err != nil {
		fmt.Fprintf(w, "   (cannot show the fields: %v)\n", err)
		return
	}
	for _, f := range dt.Fields {
		fmt.Fprintf(w, "F%-3d %-40s: %s\n", f.ID, f.Name, f.Value)
	}
	if dt.Error != "" {
		fmt.Fprintf(w, "   (%s)\n", dt.Error)
	}
}

func mtiOf(m *iso8583.Message) string {
	mti, _ := m.GetMTI()
	return mti
}

// summary names the fields people look for first, from a message's detail:
// the card number as the dialect masks it, and no other field the dialect
// masks.
func summary(dt dialect.Detail) string {
	var b strings.Builder
	get := func(id int) string {
		for _, f := range dt.Fields {
			if f.ID == id && (!f.Masked || id == 2) {
				return f.Value
			}
		}
		return ""
	}
	add := func(label string, id int) {
		if v := get(id); v != "" {
			fmt.Fprintf(&b, " %s=%s", label, v)
		}
	}
	add("stan", 11)
	add("proc", 3)
	if v := get(4); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		fmt.Fprintf(&b, " amount=%d.%02d", n/100, n%100)
	}
	add("pan", 2)
	add("tid", 41)
	add("rrn", 37)
	add("auth", 38)
	add("settle", 15)
	add("f60", 60)
	add("f48", 48)
	add("f63", 63)
	return strings.TrimSpace(b.String())
}
