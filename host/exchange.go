package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// exchange answers one frame: bytes to message, message to a plan (the
// decision and how it reaches the wire), plan to response bytes, then the
// delivery, now or later. It returns false when the connection must close.
func (c *conn) exchange(log *slog.Logger, frame []byte) bool {
	s := c.srv
	started := time.Now()
	now := s.now()
	d := s.Dialect
	n := d.PreambleOf(frame)
	preamble, body := frame[:n], frame[n:]

	// bytes -> message
	msg, err := d.Decode(body)
	if errors.Is(err, dialect.ErrNoMTI) {
		log.Warn("closing connection: message does not decode", "err", err)
		c.journal(journal.Entry{Time: now, Error: err.Error(), ErrorKind: journal.ErrorFormat, Request: string(frame)})
		return false
	}
	// A message with a field that does not decode still says what it can
	// (MTI, STAN, terminal) for the format-error response and the journal.
	req, rerr := d.Request(msg)
	if err == nil {
		err = rerr
	}
	// message -> the issuer's check of a chip card's cryptogram
	var auth *emv.Auth
	if err == nil {
		auth, err = s.chip(req)
	}
	if !c.identified {
		// The first message says whose the connection is: a terminal whose
		// own scenario refuses its new connections has it reset, unanswered.
		c.identified = true
		if until, refused := s.terminalRefused(req.TID); refused {
			c.refuseTerminal(log, req, until)
			return false
		}
	}
	e := journal.Entry{
		Time: now, MTI: req.MTI, Txn: string(req.Type), Proc: req.Proc, STAN: req.STAN, RRN: req.RRN,
		TID: req.TID, MID: req.MID, Amount: req.Amount, Currency: req.Currency, PAN: txn.MaskPAN(req.PAN),
		// A copy (frame is the read buffer), and all the detail view costs
		// here: it decodes and masks only when someone looks.
		Request: string(frame),
	}
	if !isRequest(req.MTI) {
		e.Decision = "not a request; no answer"
		c.journal(e)
		logExchange(log, &e)
		return true
	}

	// message -> plan
	var macKey []byte
	signed := d.MAC != nil && msg.GetField(64) != nil && req.Type != txn.SignOn
	if signed && s.Keys != nil {
		macKey = s.Keys.MACKey(req.MID, req.TID)
	}
	var plan scenarios.Plan
	// A journal that cannot record (its disk full) stops the host deciding:
	// what it approved now could be lost. It answers 96 and keeps trying, so
	// that the first answer it can journal again ends the outage.
	journalDown := s.Journal.Health()
	s.noteJournal(log, journalDown)
	switch {
	case journalDown != nil && req.Type != txn.Echo:
		plan.Decision = txn.Decision{RC: txn.SystemError, Note: "system error: the journal cannot record (" + journalDown.Error() + "); nothing was decided"}
	case err != nil:
		plan.Decision = txn.Decision{RC: txn.FormatError, Note: "format error: " + err.Error()}
		e.Error, e.ErrorKind = err.Error(), journal.ErrorFormat
		log.Info("format error", "mti", req.MTI, "err", err)
	case signed && macKey == nil:
		plan.Decision = txn.Decision{RC: txn.MACError, Requirement: 3, Note: "MAC error: no MAC key for this terminal; sign on again"}
	case signed && !macValid(d, macKey, body):
		plan.Decision = txn.Decision{RC: txn.MACError, Requirement: 3, Note: "MAC error: the request's MAC does not verify; sign on again"}
	default:
		plan = s.Planner.Plan(req, now)
	}
	dec := &plan.Decision

	// plan -> response bytes
	packed, err := respond(d, msg, req, &plan, auth, now, macKey)
	if err != nil {
		// The request decoded, so only our own response (or a scripted edit
		// of it) can be at fault.
		log.Error("cannot build the response", "mti", req.MTI, "err", err)
		e.Error, e.ErrorKind = "building the response: "+err.Error(), journal.ErrorResponse
		e.Decision = dec.Note
		c.journal(e)
		logExchange(log, &e)
		return true
	}
	var pre [16]byte
	rp := d.ReplyPreamble(pre[:0], preamble, dec.Requirement)
	out, err := s.Framer.AppendFrame(nil, rp, packed)
	if err != nil {
		log.Error("cannot frame the response", "mti", req.MTI, "err", err)
		e.Error, e.ErrorKind = "framing the response: "+err.Error(), journal.ErrorResponse
		c.journal(e)
		logExchange(log, &e)
		return true
	}
	// As built, without the length header: what a fault then puts on the
	// wire may differ.
	e.Response = string(out[len(out)-len(rp)-len(packed):])

	e.RespMTI = dialect.ResponseMTI(req.MTI)
	e.RC = dec.RC
	e.Decision = dec.Note
	if dec.RRN != "" {
		e.OrigRRN, e.RRN = req.RRN, dec.RRN // a void names its original's RRN
	}
	e.Scenario, e.Rule, e.Step, e.Action = plan.Trace.Scenario, plan.Trace.Rule, plan.Trace.Step, plan.Trace.Action
	e.Acts = journalActs(plan.Acts)
	e.Batch, e.Replay = dec.Batch, string(dec.Replay)
	e.LatencyUS = time.Since(started).Microseconds()
	// Journalled before it is delivered: a terminal that has its answer finds
	// the exchange in the journal, and with a durable journal nothing it was
	// told is lost. What could not be journalled is not told.
	err = c.journal(e)
	logExchange(log, &e)
	if err != nil {
		if journalDown == nil {
			// The decision is booked but not journalled: the terminal's
			// reversal, on no answer, undoes it.
			log.Error("journal write failed; response withheld", "mti", req.MTI, "stan", req.STAN, "err", err)
			return true
		}
		// Nothing was decided: the 96 loses nothing when it is not journalled.
	}

	// response -> bytes on the wire, now or after the scripted delay
	deliver := func() bool {
		if err := c.deliver(plan.Fault, plan.Terminal, out); err != nil {
			log.Warn("cannot write the response", "mti", e.RespMTI, "stan", e.STAN, "err", err)
			e.Error, e.ErrorKind = "writing the response: "+err.Error(), journal.ErrorWrite
			e.Replay = "" // the decision is journalled (and replayed) once
			c.journal(e)
			return false
		}
		return true
	}
	if plan.Delay > 0 {
		c.later(plan.Delay, func() {
			if !deliver() {
				c.Close()
			}
		}, func() {
			// Journalled as answered, it never left: say so.
			e.Error = "writing the response: not delivered: the connection closed before the scripted delay ended"
			e.ErrorKind = journal.ErrorWrite
			e.Replay = "" // the decision is journalled (and replayed) once
			c.journal(e)
		})
		return true
	}
	return deliver()
}

// logExchange logs an exchange at debug level, so that someone watching the
// log sees the traffic: the journal's columns, the card number masked as it is
// there, never a frame. The level is checked first, so that with debug off
// (the usual case, and the benchmarks') no attribute is built.
func logExchange(log *slog.Logger, e *journal.Entry) {
	ctx := context.Background()
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("mti", e.MTI), slog.String("response_mti", e.RespMTI), slog.String("txn", e.Txn),
		slog.String("stan", e.STAN), slog.String("tid", e.TID), slog.String("mid", e.MID))
	if e.PAN != "" {
		attrs = append(attrs, slog.String("pan", e.PAN)) // masked when the entry was made
	}
	if e.Amount != 0 {
		attrs = append(attrs, slog.Int64("amount", e.Amount), slog.String("currency", e.Currency))
	}
	attrs = append(attrs, slog.String("rc", e.RC), slog.Int64("latency_us", e.LatencyUS))
	if e.Rule != "" || e.Action != "" {
		attrs = append(attrs, slog.String("scenario", e.Scenario), slog.String("rule", e.Rule), slog.String("action", e.Action))
		if e.Step != 0 {
			attrs = append(attrs, slog.Int("step", e.Step))
		}
	}
	if e.Error != "" {
		attrs = append(attrs, slog.String("err", e.Error))
	}
	log.LogAttrs(ctx, slog.LevelDebug, "exchange", attrs...)
}

// deliver puts a framed response on the wire, whole or the fault's way. tid
// is the terminal whose own scenario chose the fault, "" for the global one.
func (c *conn) deliver(f fault.Fault, tid string, frame []byte) error {
	switch {
	case f == nil:
		return c.Write(frame)
	case tid != "":
		return f.Deliver(terminalWire{c, tid}, frame)
	}
	return f.Deliver(c, frame)
}

// terminalWire is a connection as the fault of a terminal's own scenario sees
// it: what the fault does beyond this exchange (refuse) reaches that terminal
// alone, and never another terminal's connections.
type terminalWire struct {
	*conn
	tid string
}

// Refuse turns away the terminal's new connections for d, each at its first
// message.
func (w terminalWire) Refuse(d time.Duration) { w.srv.refuseTerminal(w.tid, d) }

// refuseTerminal resets a connection whose first message came from a terminal
// its own scenario refuses, without an answer. As the other refusals, it is
// journalled and logged before the reset, at most once a second, saying how
// many were refused since.
func (c *conn) refuseTerminal(log *slog.Logger, req *txn.Request, until int64) {
	s := c.srv
	if since, note := s.scripted.add(); note {
		left := time.Duration(until - time.Now().UnixNano()).Round(time.Second)
		log.Info("connection refused: the terminal's scenario refuses its new connections", "tid", req.TID,
			"for", left, "refused_since_last_line", since)
		c.journal(journal.Entry{
			MTI: req.MTI, Txn: string(req.Type), STAN: req.STAN, TID: req.TID, MID: req.MID,
			Error:     fmt.Sprintf("connection refused: the scenario of terminal %s refuses its new connections for another %v (refuse); unanswered", req.TID, left),
			ErrorKind: journal.ErrorOther,
			Decision:  refusedSince(since),
		})
	}
	resetConn(c.rwc)
}

// journalActs is the plan's acts as the journal keeps them.
func journalActs(acts []scenarios.Act) journal.Acts {
	if len(acts) == 0 {
		return journal.Acts{}
	}
	var buf [8]journal.Act
	list := buf[:0]
	for _, a := range acts {
		list = append(list, journal.Act{Kind: string(a.Kind), Name: a.Name, Value: a.Value})
	}
	return journal.MakeActs(list...)
}

// respond packs the response to req with the plan's field changes and, for
// a chip card's cryptogram (auth), the issuer's answer to it; with a MAC
// key, it signs it in F64.
func respond(d *dialect.Dialect, msg *iso8583.Message, req *txn.Request, plan *scenarios.Plan, auth *emv.Auth, now time.Time, macKey []byte) ([]byte, error) {
	resp, err := d.Response(msg, req, &plan.Decision, now)
	if err != nil {
		return nil, err
	}
	for id, v := range plan.Set {
		if err := dialect.SetField(resp, id, v); err != nil {
			return nil, err
		}
	}
	for _, id := range plan.Unset {
		resp.UnsetField(id)
	}
	if auth != nil {
		if err := answerChip(d, resp, auth, &plan.Chip, plan.Set); err != nil {
			return nil, err
		}
	}
	if ed, ok := plan.Fault.(fault.Editor); ok {
		if err := ed.Edit(resp); err != nil {
			return nil, err
		}
	}
	if macKey != nil {
		if err := resp.BinaryField(64, make([]byte, 8)); err != nil {
			return nil, err
		}
	}
	packed, err := resp.Pack()
	if err != nil || macKey == nil {
		return packed, err
	}
	mac, err := d.MAC(macKey, packed[:len(packed)-8])
	if err != nil {
		return nil, err
	}
	copy(packed[len(packed)-8:], mac)
	return packed, nil
}

// macValid checks the MAC in the last 8 bytes of a message (its F64).
func macValid(d *dialect.Dialect, key, body []byte) bool {
	if len(body) < 8 {
		return false
	}
	mac, err := d.MAC(key, body[:len(body)-8])
	return err == nil && bytes.Equal(mac, body[len(body)-8:])
}

// isRequest reports MTIs the host answers: requests and advices (function
// digit 0 or 2), and their repeats. Responses sent to the host are not answered.
func isRequest(mti string) bool {
	return len(mti) == 4 && (mti[2] == '0' || mti[2] == '2')
}

// noteJournal logs the journal failing and recovering, once each time.
func (s *Server) noteJournal(log *slog.Logger, err error) {
	if failing := err != nil; s.journalFailing.Load() != failing && s.journalFailing.Swap(failing) != failing {
		if failing {
			log.Error("the journal cannot record: answering 96 until it can", "err", err)
		} else {
			log.Info("the journal records again: deciding again")
		}
	}
}
