package txn

import "slices"

// Side is how settlement totals count an approved transaction.
type Side int

const (
	// NoSide: not in the totals (network messages, enquiries, a
	// pre-authorisation, which reserves but does not move money).
	NoSide Side = iota
	// Debit: the cardholder pays the merchant (sale, completion, advice).
	Debit
	// Credit: the merchant pays the cardholder back (refund).
	Credit
	// Undo: a void. Where voids count as credits (cup) it is a credit and its
	// original stays among the debits; elsewhere its original drops out.
	Undo
)

// Info is what acqsim knows about a transaction type, apart from any wire
// format: every list of types elsewhere (the scenario language, the CLI,
// the docs, the books' and the scenarios' rules) is read from the table.
type Info struct {
	Type Type
	// Says is the type in a few words, for the docs and the CLI.
	Says string
	// Financial: a card transaction the host books in the terminal's batch
	// and answers from its books when it comes again (a retransmission).
	Financial bool
	// Side is how settlement totals count it when approved.
	Side Side
	// Settles: money moves to or from the merchant for it (settlement
	// reports, fees, T+0 and T+1 terms).
	Settles bool
	// NeedsSignOn: a terminal that has not signed on may not send it, where
	// a scenario requires a sign-on.
	NeedsSignOn bool
	// LimitBearing: risk limits count it (a debit the cardholder is charged
	// for; a completion settles what its pre-authorisation counted).
	LimitBearing bool
	// ClosesBooks: it moves a batch towards closing (settlement, upload,
	// end of upload).
	ClosesBooks bool
	// Voids lists the types of original it may void; nil for a type that is
	// not a void.
	Voids []Type
}

// Voided reports whether a void of type t may void an original of type orig.
func (i Info) Voided(orig Type) bool { return slices.Contains(i.Voids, orig) }

// IsVoid reports whether the type voids an original.
func (i Info) IsVoid() bool { return len(i.Voids) > 0 }

// Types is the table of transaction types, in the order the docs list them.
var Types = []Info{
	{Type: SignOn, Says: "sign-on (cup: with working keys)"},
	{Type: SignOff, Says: "sign-off"},
	{Type: Echo, Says: "echo test"},
	{Type: Sale, Says: "sale", Financial: true, Side: Debit, Settles: true, NeedsSignOn: true, LimitBearing: true},
	{Type: Void, Says: "void of a sale, completion or advice", Financial: true, Side: Undo, Settles: true, NeedsSignOn: true,
		Voids: []Type{Sale, Completion, Advice}},
	{Type: Refund, Says: "refund", Financial: true, Side: Credit, Settles: true, NeedsSignOn: true},
	{Type: Balance, Says: "balance enquiry", Financial: true, NeedsSignOn: true},
	{Type: PreAuth, Says: "pre-authorisation", Financial: true, NeedsSignOn: true, LimitBearing: true},
	{Type: PreAuthVoid, Says: "void of a pre-authorisation", Financial: true, NeedsSignOn: true,
		Voids: []Type{PreAuth}},
	{Type: Completion, Says: "completion of a pre-authorisation", Financial: true, Side: Debit, Settles: true, NeedsSignOn: true},
	{Type: CompletionVoid, Says: "void of a completion", Financial: true, Side: Undo, Settles: true, NeedsSignOn: true,
		Voids: []Type{Completion}},
	{Type: Advice, Says: "offline advice", Financial: true, Side: Debit, Settles: true, NeedsSignOn: true, LimitBearing: true},
	{Type: Reversal, Says: "reversal of an earlier request", NeedsSignOn: true},
	{Type: Settlement, Says: "settlement (batch totals)", NeedsSignOn: true, ClosesBooks: true},
	{Type: Upload, Says: "batch upload record", NeedsSignOn: true, ClosesBooks: true},
	{Type: UploadEnd, Says: "end of batch upload", NeedsSignOn: true, ClosesBooks: true},
	{Type: ScriptAdvice, Says: "issuer script results (9F5B) of a chip card", NeedsSignOn: true},
	{Type: Unknown, Says: "a request the dialect does not recognise (answered 40)"},
}

var byType = func() map[Type]Info {
	m := make(map[Type]Info, len(Types))
	for _, i := range Types {
		m[i.Type] = i
	}
	return m
}()

// Of returns what the table says of t, and the zero Info (no flags) for a
// type not in it.
func Of(t Type) Info { return byType[t] }

// Known reports whether t is in the table.
func Known(t Type) bool {
	_, ok := byType[t]
	return ok
}
