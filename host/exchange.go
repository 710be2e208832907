package host

import (
	"errors"
	"log/slog"
	"time"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/txn"
)

// exchange answers one frame: preamble and message in, decision, response out.
// It returns false when the connection must close.
func (c *conn) exchange(log *slog.Logger, frame []byte) bool {
	s := c.srv
	started := time.Now()
	now := s.now()
	d := s.Dialect
	preamble, body := frame[:d.Preamble], frame[d.Preamble:]

	msg, err := d.Decode(body)
	if errors.Is(err, dialect.ErrNoMTI) {
		log.Warn("closing connection: message does not decode", "err", err)
		c.journal(journal.Entry{Time: now, Error: err.Error()})
		return false
	}
	// A message with a field that does not decode still says what it can
	// (MTI, STAN, terminal) for the format-error response and the journal.
	req, rerr := d.Request(msg)
	if err == nil {
		err = rerr
	}
	e := journal.Entry{
		Time: now, MTI: req.MTI, Txn: string(req.Type), Proc: req.Proc, STAN: req.STAN, RRN: req.RRN,
		TID: req.TID, MID: req.MID, Amount: req.Amount, Currency: req.Currency, PAN: txn.MaskPAN(req.PAN),
	}

	var dec txn.Decision
	switch {
	case err != nil:
		dec = txn.Decision{RC: txn.FormatError, Note: "format error: " + err.Error()}
		e.Error = err.Error()
		log.Info("format error", "mti", req.MTI, "err", err)
	case !isRequest(req.MTI):
		e.Decision = "not a request; no answer"
		c.journal(e)
		return true
	default:
		dec = s.Decider.Decide(req, now)
	}

	resp, err := d.Response(msg, req, &dec, now)
	var packed []byte
	if err == nil {
		packed, err = resp.Pack()
	}
	if err != nil {
		// The request decoded, so only our own response can be at fault.
		log.Error("cannot build the response", "mti", req.MTI, "err", err)
		e.Error = "building the response: " + err.Error()
		e.Decision = dec.Note
		c.journal(e)
		return true
	}
	e.RespMTI, _ = resp.GetMTI()
	e.RC = dec.RC
	e.Decision = dec.Note
	if dec.RRN != "" {
		e.RRN = dec.RRN
	}

	var pre [16]byte
	err = c.write(d.ReplyPreamble(pre[:0], preamble), packed)
	e.LatencyUS = time.Since(started).Microseconds()
	if err != nil {
		log.Warn("cannot write the response", "mti", e.RespMTI, "stan", e.STAN, "err", err)
		e.Error = "writing the response: " + err.Error()
		c.journal(e)
		return false
	}
	c.journal(e)
	return true
}

// isRequest reports MTIs the host answers: requests and advices (function
// digit 0 or 2), and their repeats. Responses sent to the host are not answered.
func isRequest(mti string) bool {
	return len(mti) == 4 && (mti[2] == '0' || mti[2] == '2')
}
