package host

import (
	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// The issuer's side of a chip card. Before the decision, the card's
// cryptogram (the ARQC in F55) is checked under the keys of the card's
// profile, so that the scenario decides knowing whether it verified; after
// it, the answer's F55 carries the issuer's own cryptogram (the ARPC, for
// the response code actually sent) and the scenario's issuer scripts.

// chip reads a request's chip data and, for a request that goes online
// with an ARQC, has the issuer check it. It returns nil for a request
// without one; an error for chip data that does not decode (a format error).
func (s *Server) chip(req *txn.Request) (*emv.Auth, error) {
	if req.ICC == nil {
		return nil, nil
	}
	tags, err := emv.ParseTags(req.ICC)
	if err != nil {
		return nil, &dialect.FieldError{Field: "55", Err: err}
	}
	req.Tag = tags.Hex
	if !online(req, tags) {
		return nil, nil
	}
	cards := s.Cards
	if cards == nil {
		cards = emv.Builtin()
	}
	auth := cards.For(req.PAN).Authorise(req.PAN, cardSeq(req, tags), tags)
	switch {
	case !auth.Checked:
		req.Chip = txn.ChipUnchecked
	case auth.Valid:
		req.Chip = txn.ChipValid
	default:
		req.Chip, req.ChipWhy = txn.ChipFailed, auth.Reason
	}
	return auth, nil
}

// online reports a request that asks the issuer to authorise a chip card:
// a request (not an advice, a reversal or an upload) whose cryptogram
// information data (9F27) says ARQC.
func online(req *txn.Request, tags emv.Tags) bool {
	cid, ok := tags.Value("9F27")
	if !ok || len(cid) != 1 || cid[0]&0xC0 != 0x80 {
		return false
	}
	m := req.MTI
	return len(m) == 4 && (m[1] == '1' || m[1] == '2') && m[2] == '0'
}

// cardSeq is the card's PAN sequence number as two digits: tag 5F34, or the
// last two digits of F23.
func cardSeq(req *txn.Request, tags emv.Tags) string {
	if v := tags.Hex("5F34"); v != "" {
		return v
	}
	if n := len(req.CardSeq); n >= 2 {
		return req.CardSeq[n-2:]
	}
	return "00"
}

// answerChip puts the issuer's answer to the card's cryptogram in the
// response's F55: tag 91 for the response code the response carries (or,
// as the scenario says, a wrong one or none), the tags the dialect adds,
// then the scenario's scripts. A scenario that sets F55 itself keeps it.
func answerChip(d *dialect.Dialect, resp *iso8583.Message, auth *emv.Auth, cp *scenarios.ChipPlan, set map[int]string) error {
	if _, own := set[55]; own {
		return nil
	}
	rc := dialect.FieldValue(resp, 39)
	var tags emv.Tags
	if arpc := auth.IssuerData(rc); arpc != nil && cp.ARPC != "missing" {
		if cp.ARPC == "wrong" {
			arpc = append([]byte(nil), arpc...)
			arpc[0] ^= 0x01
		}
		tags = tags.Set("91", arpc)
	}
	for _, t := range d.ChipAnswer {
		switch t {
		case "8A":
			tags = tags.Set("8A", []byte(rc))
		case "89":
			if code := dialect.FieldValue(resp, 38); code != "" && rc == txn.Approved {
				tags = tags.Set("89", []byte(code))
			}
		}
	}
	icc, err := tags.Encode()
	if err != nil {
		return err
	}
	for _, s := range cp.Scripts {
		script, err := auth.Script(s)
		if err != nil {
			return err
		}
		icc = append(icc, script...)
	}
	if len(icc) == 0 {
		resp.UnsetField(55)
		return nil
	}
	return resp.BinaryField(55, icc)
}
