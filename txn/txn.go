// Package txn describes a payment transaction apart from any wire format: what a
// terminal asked for (Request) and what the host decided (Decision). Dialects
// translate messages to and from these; the acquirer and the scenarios reason
// about them.
package txn

import (
	"strings"
	"time"
)

// Type is what a request asks for, whatever the dialect spells it as.
type Type string

const (
	SignOn      Type = "signon"
	SignOff     Type = "signoff"
	Echo        Type = "echo"
	Sale        Type = "sale"
	Void        Type = "void"
	Refund      Type = "refund"
	Balance     Type = "balance"
	PreAuth     Type = "preauth"
	PreAuthVoid Type = "preauth_void"
	Completion  Type = "completion"
	// CompletionVoid voids a completion (cup 60.1 = 21); in iso87ascii a
	// completion is voided by a plain void.
	CompletionVoid Type = "completion_void"
	Advice         Type = "advice"
	Reversal       Type = "reversal"
	Settlement     Type = "settlement"
	Upload         Type = "upload"
	UploadEnd      Type = "upload_end"
	ScriptAdvice   Type = "script_advice"
	// Unknown is a request the dialect does not recognise; the host answers 40.
	Unknown Type = "unknown"
)

// Response codes (F39) the host itself produces.
const (
	Approved          = "00"
	InvalidMerchant   = "03"
	MACError          = "A0"
	InvalidTxn        = "12"
	InvalidAmount     = "13"
	OriginalNotFound  = "25"
	FormatError       = "30"
	NotSupported      = "40"
	OriginalAmountBad = "64"
	Duplicate         = "94"
	OutOfBalance      = "95"
	SystemError       = "96"
	NotRegistered     = "97"
	NotPermitted      = "58" // not permitted at terminal
)

// Request is a terminal's request as the host understands it.
type Request struct {
	MTI  string
	Type Type
	// Repeat is set for a retransmission the terminal marked as such (x01, x21).
	Repeat    bool
	Proc      string // F3
	Amount    int64  // F4, in minor units
	Currency  string // F49
	PAN       string // F2 or from track 2; clear, so never log it: see MaskPAN
	STAN      string // F11
	TID       string // F41
	MID       string // F42
	RRN       string // F37: a void's or refund's original RRN
	AuthCode  string // F38: a void's or completion's original authorisation code
	EntryMode string // F22
	// CardSeq is the chip card's sequence number (F23), "" when absent.
	CardSeq string
	// ICC is the chip data of F55 (BER-TLV), nil when absent. It holds card
	// data: never log it (emv.Masked shows a tag as logs may).
	ICC []byte
	// Tag returns a tag of the chip data as upper-case hex, "" when absent or
	// when F55 does not decode (for scenario expressions); nil without F55.
	Tag func(tag string) string `json:"-"`
	// Chip is the issuer's check of the card's cryptogram (ARQC), for the
	// scenario to decide on; ChipNone when the request carries none.
	Chip Chip
	// ChipWhy says why the cryptogram failed, in words, with no card data.
	ChipWhy   string
	Condition string // F25
	// Batch is the batch number the terminal says it is in (cup 60.2; iso87 F60 on 0500).
	Batch string
	// NetCode is the network management code: cup 60.3 or iso87 F70.
	NetCode string
	// KeyVariant is the working-key layout a sign-on asks for, in dialects
	// whose sign-on hands out keys (cup 60.3: 001, 003, 004); "" otherwise.
	KeyVariant string
	// Orig identifies the original of a void, refund or completion, where the
	// dialect carries it (cup F61).
	Orig Original
	// ReversalReason is F39 of a reversal: 98 no response, A0 MAC error, 06 other.
	ReversalReason string
	// Totals are the terminal's settlement totals (0500).
	Totals Totals
	// Uploads are the transactions a batch upload message carries.
	Uploads []UploadRecord
	// UploadCount is the number of records an upload-end message says were sent.
	UploadCount int
	// Fingerprint is what makes two requests with the same STAN the same
	// request: a hash of their content, without card data in the clear.
	Fingerprint string
	// Field returns any field of the request by number, "" when absent (for
	// scenario expressions); nil when the dialect did not set it.
	Field func(id int) string `json:"-"`
	// Terms, when set, are how the merchant's money for this transaction
	// settles, as the scenario's merchant settings say; nil leaves it to the
	// host (T1 on its own calendar, no fee).
	Terms *Terms
}

// Chip is the issuer's check of a chip card's cryptogram.
type Chip string

// The checks of a chip card's cryptogram.
const (
	ChipNone      Chip = ""          // no chip data, or no cryptogram to check
	ChipValid     Chip = "valid"     // the ARQC verified
	ChipFailed    Chip = "failed"    // the ARQC did not verify, or could not be read
	ChipUnchecked Chip = "unchecked" // the card's profile says verify: none
)

// Terms are how a transaction's money reaches the merchant.
type Terms struct {
	// Mode is T1 (next working day after the clearing date) or T0 (real-time
	// crediting).
	Mode string `json:"mode"`
	// Settlement is the settlement date (F15).
	Settlement time.Time `json:"settlement_date"`
	// FundsAt is when the money is available to the merchant.
	FundsAt time.Time `json:"funds_available"`
	// CardType is debit or credit (from the BIN table).
	CardType string `json:"card_type"`
	// Fee is the merchant's fee in minor units; negative gives a fee back.
	Fee int64 `json:"fee"`
	// Faults are the books faults applied on purpose (fee-no-cap, ...).
	Faults []string `json:"faults,omitempty"`
}

// Original is a reference to an earlier transaction.
type Original struct {
	Batch string
	STAN  string
	Date  string // MMDD
}

// Totals are one side's settlement totals.
type Totals struct {
	DebitCount   int   `json:"debit_count"`
	DebitAmount  int64 `json:"debit_amount"`
	CreditCount  int   `json:"credit_count"`
	CreditAmount int64 `json:"credit_amount"`
	// Foreign cards' totals, where the dialect keeps them apart (cup).
	ForeignDebitCount   int   `json:"foreign_debit_count,omitempty"`
	ForeignDebitAmount  int64 `json:"foreign_debit_amount,omitempty"`
	ForeignCreditCount  int   `json:"foreign_credit_count,omitempty"`
	ForeignCreditAmount int64 `json:"foreign_credit_amount,omitempty"`
}

// UploadRecord is one transaction as the terminal reports it in a batch upload.
type UploadRecord struct {
	MTI, Proc, STAN, RRN, AuthCode string
	PAN                            string // clear; never log it
	Amount                         int64
}

// Reconciliation is the outcome of comparing a terminal's totals with the host's.
type Reconciliation byte

const (
	NotReconciled Reconciliation = 0
	Balanced      Reconciliation = '1'
	NotBalanced   Reconciliation = '2'
)

// Decision is what the host answers.
type Decision struct {
	RC       string
	RRN      string
	AuthCode string
	// Settlement is the settlement date (F15), zero when not set.
	Settlement time.Time
	// Batch is the batch the terminal must use (cup sign-on 60.2).
	Batch string
	// Keys are the working keys for a sign-on (cup F62), encrypted, with check values.
	Keys []byte
	// Balance is the available balance for a balance inquiry (F54).
	Balance int64
	// Domestic and Foreign are the settlement reconciliation codes (cup F48).
	Domestic, Foreign Reconciliation
	// Cached is set when the answer is the one given to an identical earlier
	// request (a retransmission): nothing new happened.
	Cached bool
	// At is the host's time when it first gave this answer, zero for the
	// time of the response: a retransmission's answer is the first one
	// again, its F12 and F13 included.
	At time.Time
	// Released is what an approved reversal or void took back: the original
	// it undid, so that risk limits can give back what the original used.
	Released *Released
	// Replay, when the host keeps events, is what a durable journal needs to
	// apply this decision again after a restart (no card data in clear).
	Replay []byte
	// Requirement is the host's processing requirement for the terminal, sent
	// in the low nibble of the cup header's third byte (3: sign on again). Zero
	// leaves the header as the terminal sent it.
	Requirement byte
	// Note says in words what the host decided, for the journal.
	Note string
}

// Released describes an original transaction that a reversal or void undid.
type Released struct {
	Type     Type
	PAN      string // clear; never log it
	MID, TID string
	Amount   int64
	// At is when the original was approved, on the host's clock.
	At time.Time
}

// MaskPAN keeps the first six and last four digits of a card number.
func MaskPAN(pan string) string {
	if len(pan) < 13 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// MaskTrack masks track data: the card number as MaskPAN does, and all that
// follows the separator (expiry, service code, discretionary data).
func MaskTrack(track string) string {
	for i := 0; i < len(track); i++ {
		if track[i] == '=' || track[i] == 'D' {
			return MaskPAN(track[:i]) + "=" + strings.Repeat("*", len(track)-i-1)
		}
	}
	return strings.Repeat("*", len(track))
}

// rcText says what each response code means (DOMAIN: response codes).
var rcText = map[string]string{
	"00": "approved", "03": "invalid merchant", "05": "do not honour", "06": "error",
	"12": "invalid transaction", "13": "invalid amount", "14": "invalid card number",
	"25": "original not found", "30": "format error", "38": "PIN tries exceeded",
	"40": "function not supported", "51": "insufficient funds", "54": "expired card",
	"55": "wrong PIN", "57": "not permitted to cardholder", "58": "not permitted at terminal",
	"61": "exceeds amount limit", "62": "restricted card", "63": "security violation",
	"64": "original amount incorrect", "65": "exceeds frequency limit", "68": "response received too late",
	"75": "PIN tries exceeded", "90": "cut-over in progress", "91": "issuer inoperative",
	"94": "duplicate transmission", "95": "reconcile error", "96": "system malfunction",
	"97": "terminal not registered", "98": "no response (reversal reason)", "99": "PIN block error", "A0": "MAC error",
}

// RCText says in words what a response code means, or "" for one it does not know.
func RCText(rc string) string { return rcText[rc] }

// Count adds one approved transaction to settlement totals, the way both sides
// of a settlement count: sales, completions and advices are debits; refunds
// are credits; a voided sale drops out, unless voidsAsCredits (cup), where it
// stays among the debits and its void counts as a credit.
func (t *Totals) Count(typ Type, amount int64, voided, voidsAsCredits bool) {
	switch Of(typ).Side {
	case Debit:
		if voided && !voidsAsCredits {
			return
		}
		t.DebitCount++
		t.DebitAmount += amount
	case Credit:
		t.CreditCount++
		t.CreditAmount += amount
	case Undo:
		if voidsAsCredits {
			t.CreditCount++
			t.CreditAmount += amount
		}
	}
}
