package dialect

import (
	"fmt"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/txn"
)

// cupRoutes: China UnionPay POS style, keyed on MTI, 60.1 (transaction type),
// 60.3 (network management code) and the first two digits of F3. A financial
// message whose F3 is not its type's (a "sale" with F3 310000) matches no
// route and is answered 40, function not supported.
var cupRoutes = []route{
	{MTI: "0800", Type: txn.SignOn},
	{MTI: "0820", Net: "002", Type: txn.SignOff},
	{MTI: "0820", Net: "301", Type: txn.Echo},
	{MTI: "0200", Kind: "01", Proc: "31", Type: txn.Balance},
	{MTI: "0200", Kind: "22", Proc: "00", Type: txn.Sale},
	{MTI: "0200", Kind: "23", Proc: "20", Type: txn.Void},
	{MTI: "0200", Kind: "20", Proc: "00", Type: txn.Completion},
	{MTI: "0200", Kind: "21", Proc: "20", Type: txn.CompletionVoid},
	{MTI: "0220", Kind: "25", Proc: "20", Type: txn.Refund},
	{MTI: "0220", Kind: "24", Proc: "00", Type: txn.Completion},
	{MTI: "0220", Proc: "00", Type: txn.Advice},
	{MTI: "0100", Kind: "10", Proc: "03", Type: txn.PreAuth},
	{MTI: "0100", Kind: "11", Proc: "20", Type: txn.PreAuthVoid},
	{MTI: "0400", Type: txn.Reversal},
	{MTI: "0420", Type: txn.Reversal},
	{MTI: "0500", Type: txn.Settlement},
	{MTI: "0320", Net: "201", Type: txn.Upload},
	{MTI: "0320", Net: "203", Type: txn.Upload},
	{MTI: "0320", Net: "202", Type: txn.UploadEnd},
	{MTI: "0320", Net: "207", Type: txn.UploadEnd},
}

type cup struct{}

// f60 splits field 60: 60.1 type n2, 60.2 batch n6, 60.3 network management code n3.
func f60(v string) (kind, batch, net string) {
	if len(v) >= 2 {
		kind = v[:2]
	}
	if len(v) >= 8 {
		batch = v[2:8]
	}
	if len(v) >= 11 {
		net = v[8:11]
	}
	return kind, batch, net
}

func (cup) key(m *iso8583.Message) routeKey {
	mti, _ := m.GetMTI()
	kind, _, net := f60(get(m, 60))
	return routeKey{MTI: baseMTI(mti), Proc: prefix2(get(m, 3)), Kind: kind, Net: net}
}

func (cup) read(m *iso8583.Message, r *txn.Request) error {
	_, r.Batch, r.NetCode = f60(get(m, 60))
	if r.Type == txn.SignOn {
		r.KeyVariant = r.NetCode
	}
	if o := get(m, 61); len(o) >= 12 {
		r.Orig = txn.Original{Batch: o[:6], STAN: o[6:12]}
		if len(o) >= 16 {
			r.Orig.Date = o[12:16]
		}
	}
	f48 := get(m, 48)
	switch r.Type {
	case txn.Settlement:
		t, err := cupTotals(f48)
		if err != nil {
			return &FieldError{Field: "48", Err: err}
		}
		r.Totals = t
	case txn.Upload:
		recs, err := cupUploads(f48)
		if err != nil {
			return &FieldError{Field: "48", Err: err}
		}
		r.Uploads = recs
	case txn.UploadEnd:
		if len(f48) > 4 {
			// Anything longer is not a count (and may be a card number,
			// which must not reach the books or the replay record).
			m.UnsetField(48)
			return &FieldError{Field: "48", Err: fmt.Errorf("the records uploaded are %d digits, want n4", len(f48))}
		}
		if f48 != "" {
			n, err := digits(f48)
			if err != nil {
				return &FieldError{Field: "48", Err: err}
			}
			r.UploadCount = int(n)
		}
	}
	return nil
}

// cupTotals reads settlement F48: per domestic then foreign cards, debit amount
// n12, debit count n3, credit amount n12, credit count n3, reconciliation code n1.
func cupTotals(f48 string) (txn.Totals, error) {
	var t txn.Totals
	if len(f48) < 62 {
		return t, fmt.Errorf("settlement totals are %d digits, want 62", len(f48))
	}
	var n [8]int64
	for i, w := range [][2]int{{0, 12}, {12, 15}, {15, 27}, {27, 30}, {31, 43}, {43, 46}, {46, 58}, {58, 61}} {
		v, err := digits(f48[w[0]:w[1]])
		if err != nil {
			return t, err
		}
		n[i] = v
	}
	return txn.Totals{
		DebitAmount: n[0], DebitCount: int(n[1]), CreditAmount: n[2], CreditCount: int(n[3]),
		ForeignDebitAmount: n[4], ForeignDebitCount: int(n[5]), ForeignCreditAmount: n[6], ForeignCreditCount: int(n[7]),
	}, nil
}

// cupUploads reads a batch upload's F48: record count n2, then records of 40
// digits: organisation n2, trace n6, PAN n20 (zero-filled on the left), amount n12.
func cupUploads(f48 string) ([]txn.UploadRecord, error) {
	if len(f48) < 2 {
		return nil, fmt.Errorf("batch upload has no record count")
	}
	count, err := digits(f48[:2])
	if err != nil {
		return nil, err
	}
	if len(f48) < 2+int(count)*40 {
		return nil, fmt.Errorf("batch upload says %d records but carries %d digits", count, len(f48)-2)
	}
	recs := make([]txn.UploadRecord, 0, count)
	for i := 0; i < int(count); i++ {
		rec := f48[2+i*40 : 2+(i+1)*40]
		amount, err := digits(rec[28:40])
		if err != nil {
			return nil, err
		}
		if _, err := digits(rec[:28]); err != nil {
			return nil, err
		}
		pan := rec[8:28]
		for len(pan) > 1 && pan[0] == '0' {
			pan = pan[1:]
		}
		recs = append(recs, txn.UploadRecord{STAN: rec[2:8], PAN: pan, Amount: amount})
	}
	return recs, nil
}

// CupTotals formats settlement totals as F48 with the given reconciliation codes.
func CupTotals(t txn.Totals, domestic, foreign txn.Reconciliation) string {
	code := func(c txn.Reconciliation) string {
		if c == txn.NotReconciled {
			return "0"
		}
		return string(rune(c))
	}
	return pad(t.DebitAmount, 12) + pad(int64(t.DebitCount), 3) + pad(t.CreditAmount, 12) + pad(int64(t.CreditCount), 3) + code(domestic) +
		pad(t.ForeignDebitAmount, 12) + pad(int64(t.ForeignDebitCount), 3) + pad(t.ForeignCreditAmount, 12) + pad(int64(t.ForeignCreditCount), 3) + code(foreign)
}

// echoes: the expiry date (F14; not the entry mode, which cup hosts do not
// send back), the message type and batch (F60), the original transaction
// (F61), and an end of batch's totals (F48).
func (cup) echoes(id int, r *txn.Request) bool {
	return id == 14 || id == 60 || id == 61 || id == 48 && r.Type == txn.UploadEnd
}

func (cup) write(resp *iso8583.Message, r *txn.Request, d *txn.Decision) error {
	if v := get(resp, 60); d.Batch != "" && len(v) >= 8 {
		if err := resp.Field(60, v[:2]+d.Batch+v[8:]); err != nil {
			return fmt.Errorf("setting field 60: %w", err)
		}
	}
	switch r.Type {
	case txn.SignOn:
		if len(d.Keys) > 0 {
			if err := resp.BinaryField(62, d.Keys); err != nil {
				return fmt.Errorf("setting the working keys: %w", err)
			}
		}
	case txn.Settlement:
		if err := resp.Field(48, CupTotals(r.Totals, d.Domestic, d.Foreign)); err != nil {
			return fmt.Errorf("setting the settlement totals: %w", err)
		}
	case txn.Balance:
		if d.RC == txn.Approved {
			if err := resp.Field(54, "1002"+r.Currency+"C"+pad(d.Balance, 12)); err != nil {
				return fmt.Errorf("setting the balance: %w", err)
			}
		}
	}
	if d.RC == txn.Approved && isFinancial(r.Type) {
		_ = resp.Field(63, "CUP")
	}
	return nil
}

func isFinancial(t txn.Type) bool { return txn.Of(t).Financial }
