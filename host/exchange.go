package host

import (
	"bytes"
	"errors"
	"log/slog"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/txn"
)

// MACKeys is implemented by deciders that hand terminals MAC keys at sign-on;
// the host then checks the MAC of requests that carry one and signs the
// responses to them.
type MACKeys interface {
	MACKey(mid, tid string) []byte
}

// exchange answers one frame: bytes to message, message to decision, decision
// to response, response to bytes. It returns false when the connection must
// close.
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

	var macKey []byte
	signed := d.MAC != nil && msg.GetField(64) != nil
	if ks, ok := s.Decider.(MACKeys); ok && signed {
		macKey = ks.MACKey(req.MID, req.TID)
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
	case signed && macKey == nil:
		dec = txn.Decision{RC: txn.MACError, Requirement: 3, Note: "MAC error: no MAC key for this terminal; sign on again"}
	case signed && !macValid(d, macKey, body):
		dec = txn.Decision{RC: txn.MACError, Requirement: 3, Note: "MAC error: the request's MAC does not verify; sign on again"}
	default:
		dec = s.Decider.Decide(req, now)
	}

	packed, err := respond(d, msg, req, &dec, now, macKey)
	if err != nil {
		// The request decoded, so only our own response can be at fault.
		log.Error("cannot build the response", "mti", req.MTI, "err", err)
		e.Error = "building the response: " + err.Error()
		e.Decision = dec.Note
		c.journal(e)
		return true
	}
	e.RespMTI = dialect.ResponseMTI(req.MTI)
	e.RC = dec.RC
	e.Decision = dec.Note
	if dec.RRN != "" {
		e.RRN = dec.RRN
	}
	e.LatencyUS = time.Since(started).Microseconds()
	// Journalled before it is written: a terminal that has its answer finds
	// the exchange in the journal.
	c.journal(e)

	var pre [16]byte
	if err := c.write(d.ReplyPreamble(pre[:0], preamble, dec.Requirement), packed); err != nil {
		log.Warn("cannot write the response", "mti", e.RespMTI, "stan", e.STAN, "err", err)
		e.Error = "writing the response: " + err.Error()
		c.journal(e)
		return false
	}
	return true
}

// respond packs the response to req; with a MAC key, it signs it in F64.
func respond(d *dialect.Dialect, msg *iso8583.Message, req *txn.Request, dec *txn.Decision, now time.Time, macKey []byte) ([]byte, error) {
	resp, err := d.Response(msg, req, dec, now)
	if err != nil {
		return nil, err
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
