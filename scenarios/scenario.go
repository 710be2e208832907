package scenarios

import (
	"time"

	"github.com/acqsim/acqsim/host/fault"
)

// Scenario is what a scenario file says. Its field comments are the format's
// documentation.
type Scenario struct {
	// Name is how the scenario is bound and listed.
	Name string `yaml:"name" json:"name"`
	// Description says which failure it reproduces and what a terminal sees.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Rules are tried in order for each request; the first that matches
	// decides. A request no rule matches gets the default host behaviour.
	Rules []Rule `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Limits are risk limits on approved sales, pre-authorisations and
	// advices: a request that would be approved (by no rule, or by a rule
	// that lets the normal answer through) is declined beyond them. An
	// approved reversal or void gives back what its original used.
	Limits []Limit `yaml:"limits,omitempty" json:"limits,omitempty"`
	// Merchants gives merchants (by F42) a status other than active.
	Merchants map[string]Party `yaml:"merchants,omitempty" json:"merchants,omitempty"`
	// Terminals gives terminals (by F41) a status other than active.
	Terminals map[string]Party `yaml:"terminals,omitempty" json:"terminals,omitempty"`
	// Calendar overrides the host's settlement calendar (cut-over, time zone,
	// holidays) for the merchants' settlement dates.
	Calendar *Calendar `yaml:"calendar,omitempty" json:"calendar,omitempty"`
	// BINs say which cards are debit and which credit, by the longest
	// matching prefix of the card number; without a match, the built-in
	// table decides (62: debit; 3, 4, 5: credit; anything else: debit).
	BINs []BIN `yaml:"bins,omitempty" json:"bins,omitempty"`
	// SignOnRequired refuses financial requests and settlement from a
	// terminal that has not signed on since the host started or was reset,
	// with RC 97 (cup: and a header asking it to sign on).
	SignOnRequired bool `yaml:"signon_required,omitempty" json:"signon_required,omitempty"`
	// Chip says how chip cards are treated (the answer to a cryptogram that
	// does not verify).
	Chip *ChipSettings `yaml:"chip,omitempty" json:"chip,omitempty"`
}

// Rule matches requests and says what happens to them.
type Rule struct {
	// Name identifies the rule in the journal.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Match is an expression over the request (see the scenario guide for its
	// variables and helpers); empty matches every request.
	Match string `yaml:"match,omitempty" json:"match,omitempty"`
	// Per says what the rule's counters (steps, every) count by: terminal
	// (the default), card, merchant or global.
	Per string `yaml:"per,omitempty" json:"per,omitempty"`
	// Probability applies the rule to this fraction of the requests it
	// matches (0 to 1), drawn from --seed; the others fall through to the
	// next rule.
	Probability *float64 `yaml:"probability,omitempty" json:"probability,omitempty"`
	// Every applies the rule to every Nth request it matches (counted per
	// Per); the others fall through.
	Every int `yaml:"every,omitempty" json:"every,omitempty"`
	// Outcome is what the rule does when it has no steps.
	Outcome `yaml:",inline" json:",inline"`
	// Steps are outcomes in turn: each applies to the next Times matching
	// requests (counted per Per); a step without Times applies from then on.
	// When every step is used up, the rule stops matching.
	Steps []Step `yaml:"steps,omitempty" json:"steps,omitempty"`
}

// Step is one stage of a rule.
type Step struct {
	// Times is how many matching requests the step applies to; 0 means all
	// from here on (only the last step may say so).
	Times   int `yaml:"times,omitempty" json:"times,omitempty"`
	Outcome `yaml:",inline" json:",inline"`
}

// Outcome is what happens to a request: what the host answers (Respond, or
// the default answer), after how long (Delay), and how the answer reaches the
// wire (Action). An empty outcome is the default answer, on time.
type Outcome struct {
	// Respond replaces the host's answer.
	Respond *Respond `yaml:"respond,omitempty" json:"respond,omitempty"`
	// Delay holds the answer back.
	Delay *Delay `yaml:"delay,omitempty" json:"delay,omitempty"`
	// Chip is what the answer does with a chip card's cryptograms: the
	// ARQC checked, failed or ignored; the ARPC right, wrong or missing;
	// issuer scripts.
	Chip *ChipOutcome `yaml:"chip,omitempty" json:"chip,omitempty"`
	// Action is how the answer reaches the wire: no-response, close, reset,
	// garbage, truncate, duplicate, corrupt or refuse. Either a name, or a
	// name with parameters: {garbage: {bytes: 32}}.
	Action *Action `yaml:"action,omitempty" json:"action,omitempty"`
}

// Respond is a scripted answer.
type Respond struct {
	// RC is the response code (F39). A financial request declined this way
	// is booked as declined; "00" gives the normal approval.
	RC string `yaml:"rc,omitempty" json:"rc,omitempty"`
	// Set sets response fields (by number) to these values.
	Set map[int]string `yaml:"set,omitempty" json:"set,omitempty"`
	// Unset removes response fields.
	Unset []int `yaml:"unset,omitempty" json:"unset,omitempty"`
	// Requirement is the cup header's processing requirement (1 to 7, e.g. 3:
	// sign on again).
	Requirement int `yaml:"requirement,omitempty" json:"requirement,omitempty"`
	// OutOfBalance answers a settlement as out of balance whatever its totals
	// (iso87ascii RC 95, cup F48 code 2), so the terminal uploads its batch.
	OutOfBalance bool `yaml:"out_of_balance,omitempty" json:"out_of_balance,omitempty"`
}

// Delay is how long an answer is held back: fixed ("45s"), a uniform range
// ("1s..5s"), or a distribution ({distribution: normal, mean: 2s, stddev:
// 500ms}; {distribution: exponential, mean: 2s}). A delay beyond the
// terminal's timeout (usually 60s) is a late response: it is still sent.
// No delay is longer than a day (24h).
type Delay struct {
	Distribution string        `yaml:"distribution,omitempty" json:"distribution,omitempty"`
	Min          time.Duration `yaml:"min,omitempty" json:"min,omitempty"`
	Max          time.Duration `yaml:"max,omitempty" json:"max,omitempty"`
	Mean         time.Duration `yaml:"mean,omitempty" json:"mean,omitempty"`
	StdDev       time.Duration `yaml:"stddev,omitempty" json:"stddev,omitempty"`
}

// Action is a wire fault, by name, with its parameters.
type Action struct {
	Name string
	Spec fault.Spec
}

// Limit is a risk limit.
type Limit struct {
	// Per is what the limit counts by: card (the default), terminal or merchant.
	Per string `yaml:"per,omitempty" json:"per,omitempty"`
	// Period is txn (each transaction on its own), day or month, on the
	// virtual clock in the host's time zone.
	Period string `yaml:"period" json:"period"`
	// MaxAmount is the most that may be approved in the period, in minor units.
	MaxAmount int64 `yaml:"max_amount,omitempty" json:"max_amount,omitempty"`
	// MaxCount is the most approvals in the period.
	MaxCount int `yaml:"max_count,omitempty" json:"max_count,omitempty"`
	// RC is the answer beyond the limit: default 61 for amounts, 65 for counts.
	RC string `yaml:"rc,omitempty" json:"rc,omitempty"`
}

// Party is a merchant's or terminal's standing with the host. Under
// merchants, the key "*" applies to every merchant not listed.
type Party struct {
	// Status is active (the default), frozen (03), closed (03), unregistered
	// (97), settlement-suspended (settlement refused: 03), or void-disabled
	// (voids refused: 58).
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
	// RC replaces the response code the status gives.
	RC string `yaml:"rc,omitempty" json:"rc,omitempty"`
	// Settlement is how the merchant is paid (merchants only).
	Settlement *Settlement `yaml:"settlement,omitempty" json:"settlement,omitempty"`
}

// Settlement is a merchant's settlement product.
type Settlement struct {
	// Mode is T1 (the default: funds on the next working day after the
	// clearing date, at 09:00) or T0 (real-time crediting: funds at once,
	// settlement date the clearing date; a T0 sale cannot be voided or
	// reversed: 12).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// T0 are the limits of real-time crediting.
	T0 *T0 `yaml:"t0,omitempty" json:"t0,omitempty"`
	// Fees are what the merchant pays per transaction.
	Fees *Fees `yaml:"fees,omitempty" json:"fees,omitempty"`
	// FundsDelay makes the funds arrive this much later than the mode
	// promises (F13: real-time crediting did not arrive); at most 744h (31
	// days).
	FundsDelay time.Duration `yaml:"funds_delay,omitempty" json:"funds_delay,omitempty"`
	// Faults get the books wrong on purpose, the way a buggy acquirer does
	// (F5, F6): fee-wrong-tier (the other card type's rate), fee-no-cap,
	// fee-rounding (rounded up, not to nearest), fee-on-void (a voided sale
	// keeps its fee), holiday-ignored (settlement dates skip weekends but not
	// holidays), t0-settled-t1 (a T0 merchant paid T1).
	Faults []string `yaml:"faults,omitempty" json:"faults,omitempty"`
}

// T0 bounds real-time crediting. Outside them, a sale is refused.
type T0 struct {
	// Window is the daily window of real-time crediting ["09:00", "21:00"]
	// on the host's clock; outside it a debit gets 58.
	Window []string `yaml:"window,omitempty" json:"window,omitempty"`
	// MinAmount and MaxAmount bound one transaction (13 below, 61 above).
	MinAmount int64 `yaml:"min_amount,omitempty" json:"min_amount,omitempty"`
	MaxAmount int64 `yaml:"max_amount,omitempty" json:"max_amount,omitempty"`
	// DailyQuota caps the merchant's T0 total per day (61 beyond).
	DailyQuota int64 `yaml:"daily_quota,omitempty" json:"daily_quota,omitempty"`
}

// Fees are a merchant's fee schedule.
type Fees struct {
	// Debit and Credit are rates by card type, e.g. 0.0055 for 0.55%.
	Debit  float64 `yaml:"debit,omitempty" json:"debit,omitempty"`
	Credit float64 `yaml:"credit,omitempty" json:"credit,omitempty"`
	// DebitCap caps a debit card's fee, in minor units (0: no cap).
	DebitCap int64 `yaml:"debit_cap,omitempty" json:"debit_cap,omitempty"`
	// Fixed is added to every fee, in minor units.
	Fixed int64 `yaml:"fixed,omitempty" json:"fixed,omitempty"`
	// Refund is kept (the default: a refund carries no fee) or returned (the
	// refund's fee is given back: a negative fee).
	Refund string `yaml:"refund,omitempty" json:"refund,omitempty"`
}

// Calendar is a settlement calendar.
type Calendar struct {
	// CutOver is the time of day (HH:MM) the clearing day changes.
	CutOver string `yaml:"cut_over,omitempty" json:"cut_over,omitempty"`
	// Timezone is an IANA time zone name; default the host's.
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// Holidays are non-working days (YYYY-MM-DD).
	Holidays []string `yaml:"holidays,omitempty" json:"holidays,omitempty"`
}

// BIN gives the card type of card numbers starting with Prefix.
type BIN struct {
	Prefix string `yaml:"prefix" json:"prefix"`
	// Type is debit or credit.
	Type string `yaml:"type" json:"type"`
}
