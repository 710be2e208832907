package dialect

import (
	"fmt"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/txn"
)

// iso87Routes: generic ISO 8583:1987 terminal ("EDC") style, keyed on MTI, the
// first two digits of F3, F25 and F70. Repeats (x01, x21) are matched as their
// originals.
var iso87Routes = []route{
	{MTI: "0800", Net: "001", Type: txn.SignOn},
	{MTI: "0800", Net: "002", Type: txn.SignOff},
	{MTI: "0800", Net: "301", Type: txn.Echo},
	{MTI: "0200", Proc: "00", Cond: "06", Type: txn.Completion},
	{MTI: "0200", Proc: "00", Type: txn.Sale},
	{MTI: "0200", Proc: "02", Type: txn.Void},
	{MTI: "0200", Proc: "20", Type: txn.Refund},
	{MTI: "0200", Proc: "31", Type: txn.Balance},
	{MTI: "0100", Proc: "30", Type: txn.PreAuth},
	{MTI: "0100", Proc: "00", Type: txn.PreAuth},
	{MTI: "0100", Proc: "02", Type: txn.PreAuthVoid},
	{MTI: "0220", Proc: "00", Cond: "06", Type: txn.Completion},
	{MTI: "0220", Proc: "20", Type: txn.Refund},
	{MTI: "0220", Proc: "02", Type: txn.Void},
	{MTI: "0220", Type: txn.Advice},
	{MTI: "0400", Type: txn.Reversal},
	{MTI: "0420", Type: txn.Reversal},
	{MTI: "0500", Proc: "92", Type: txn.Settlement},
	{MTI: "0500", Proc: "96", Type: txn.UploadEnd},
	{MTI: "0320", Type: txn.Upload},
}

type iso87 struct{}

func (iso87) key(m *iso8583.Message) routeKey {
	mti, _ := m.GetMTI()
	return routeKey{MTI: baseMTI(mti), Proc: prefix2(get(m, 3)), Cond: get(m, 25), Net: get(m, 70)}
}

func (iso87) read(m *iso8583.Message, r *txn.Request) error {
	r.NetCode = get(m, 70)
	switch r.Type {
	case txn.Settlement, txn.UploadEnd:
		// F60 names the terminal's batch, but no other message does: the host
		// settles whatever it approved since the terminal's last settlement.
		if t := get(m, 63); t != "" {
			// sale count n3, sale amount n12, refund count n3, refund amount n12
			if len(t) < 30 {
				return &FieldError{Field: "63", Err: fmt.Errorf("settlement totals are %d digits, want 30", len(t))}
			}
			var n [4]int64
			for i, w := range [][2]int{{0, 3}, {3, 15}, {15, 18}, {18, 30}} {
				v, err := digits(t[w[0]:w[1]])
				if err != nil {
					return &FieldError{Field: "63", Err: err}
				}
				n[i] = v
			}
			r.Totals = txn.Totals{DebitCount: int(n[0]), DebitAmount: n[1], CreditCount: int(n[2]), CreditAmount: n[3]}
		}
	case txn.Upload:
		// F60 = original MTI n4 + original STAN n6
		orig := get(m, 60)
		if len(orig) != 10 {
			return &FieldError{Field: "60", Err: fmt.Errorf("batch upload original data is %d characters, want 10", len(orig))}
		}
		r.Uploads = []txn.UploadRecord{{
			MTI: orig[:4], STAN: orig[4:], Proc: r.Proc, RRN: r.RRN, AuthCode: r.AuthCode, PAN: r.PAN, Amount: r.Amount,
		}}
	}
	return nil
}

// echoes: the entry mode, and the network management code of an 0800 (not
// the expiry date, which iso87ascii hosts do not send back).
func (iso87) echoes(id int, _ *txn.Request) bool { return id == 22 || id == 70 }

func (iso87) write(resp *iso8583.Message, r *txn.Request, d *txn.Decision) error {
	if r.Type == txn.Balance && d.RC == txn.Approved {
		// account type 00, amount type 02 (available), currency, sign, amount n12
		if err := resp.Field(54, "0002"+r.Currency+"C"+pad(d.Balance, 12)); err != nil {
			return fmt.Errorf("setting the balance: %w", err)
		}
	}
	return nil
}

// baseMTI maps a repeat to the message it repeats: 0221 -> 0220.
func baseMTI(mti string) string {
	if len(mti) == 4 && mti[3] == '1' {
		return mti[:3] + "0"
	}
	return mti
}

func prefix2(s string) string {
	if len(s) < 2 {
		return s
	}
	return s[:2]
}
