package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/report"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

const (
	mid1 = "898100012340001"
	mid2 = "898100012340002"
	tidA = "T0000001"
	tidB = "T0000002"
)

func date(mo time.Month, d int) time.Time { return time.Date(2026, mo, d, 0, 0, 0, 0, time.UTC) }

// terms settle mode on a day, funds at 09:00 that day.
func terms(mode string, settles time.Time, cardType string, fee int64, faults ...string) txn.Terms {
	return txn.Terms{Mode: mode, Settlement: settles, FundsAt: settles.Add(9 * time.Hour), CardType: cardType, Fee: fee, Faults: faults}
}

type record = books.Record

// rec is a transaction in the host's books as Host.Records reports it.
func rec(mid, tid, batch string, typ txn.Type, state string, amount int64, tm txn.Terms) record {
	return record{
		MID: mid, TID: tid, Batch: batch, Type: typ, State: state, STAN: "000001", RRN: "000000000001",
		PAN: "622202*********0123", Amount: amount, Currency: "156", Terms: tm,
	}
}

func figures(count int, gross, fees int64) report.Figures {
	return report.Figures{Count: count, Gross: gross, Fees: fees, Net: gross - fees}
}

func fp(f report.Figures) *report.Figures { return &f }

// The settlement report groups the merchant's approved transactions by
// merchant, settlement date, mode and currency, splits them by card type,
// and leaves out what was voided, reversed or declined and what is not
// settled at all.
func TestSettlements(t *testing.T) {
	t1 := terms("T1", date(6, 12), "debit", 50)
	late := terms("T1", date(6, 12), "credit", 18)
	late.FundsAt = date(6, 12).Add(11 * time.Hour) // funds_delay: 2h
	records := []record{
		rec(mid1, tidA, "000001", txn.Sale, "approved", 10000, t1),
		rec(mid1, tidA, "000001", txn.Sale, "approved", 1234, terms("T1", date(6, 12), "credit", 7)),
		rec(mid1, tidB, "000001", txn.Refund, "approved", 2000, terms("T1", date(6, 12), "debit", 0)),
		rec(mid1, tidA, "000001", txn.Sale, "voided", 500, terms("T1", date(6, 12), "debit", 3)),
		rec(mid1, tidA, "000001", txn.Void, "approved", 500, terms("T1", date(6, 12), "debit", 0)),
		rec(mid1, tidA, "000001", txn.Sale, "reversed", 700, terms("T1", date(6, 12), "debit", 4)),
		rec(mid1, tidA, "000001", txn.Sale, "declined", 800, txn.Terms{}),
		rec(mid1, tidA, "000001", txn.Refund, "declined", 800, terms("T1", date(6, 12), "debit", 0)),
		rec(mid1, tidA, "000002", txn.Completion, "approved", 3000, late),
		rec(mid1, tidA, "000002", txn.Advice, "approved", 100, terms("T1", date(6, 12), "debit", 1)),
		rec(mid1, tidA, "000002", txn.PreAuth, "approved", 9999, terms("T1", date(6, 12), "", 0)),
		rec(mid1, tidA, "000002", txn.Balance, "approved", 0, terms("T1", date(6, 12), "", 0)),
		rec(mid1, tidA, "000002", txn.Sale, "approved", 5000, terms("T1", date(6, 15), "debit", 25)),
		rec(mid1, tidA, "000002", txn.Sale, "approved", 4000, txn.Terms{Mode: "T0", Settlement: date(6, 12), FundsAt: date(6, 12).Add(15 * time.Hour), CardType: "credit", Fee: 24}),
		rec(mid2, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 12), "credit", 1)),
	}
	batches := []books.Batch{
		{MID: mid1, TID: tidA, Batch: "000001", State: "closed", Outcome: "balanced"},
		{MID: mid1, TID: tidB, Batch: "000001", State: "uploaded", Outcome: "out of balance"},
		{MID: mid1, TID: tidA, Batch: "000002", State: "open"},
		{MID: mid2, TID: tidA, Batch: "000001", State: "reconciling", Outcome: "balanced"},
		{MID: mid2, TID: tidB, Batch: "000009", State: "closed", Outcome: "balanced"}, // nothing of it settles
	}
	want := []report.Settlement{
		{
			MID: mid1, SettlementDate: "2026-06-12", Mode: "T0", Currency: "156",
			FundsAvailable: date(6, 12).Add(15 * time.Hour),
			Figures:        figures(1, 4000, 24),
			ByCardType:     map[string]*report.Figures{"credit": fp(figures(1, 4000, 24))},
			Batches:        []report.BatchOutcome{{TID: tidA, Batch: "000002", State: "open"}},
		},
		{
			MID: mid1, SettlementDate: "2026-06-12", Mode: "T1", Currency: "156",
			FundsAvailable: date(6, 12).Add(11 * time.Hour), // the latest
			Figures:        figures(5, 10000+1234-2000+3000+100, 50+7+18+1),
			ByCardType: map[string]*report.Figures{
				"debit":  fp(figures(3, 10000-2000+100, 50+1)),
				"credit": fp(figures(2, 1234+3000, 7+18)),
			},
			Batches: []report.BatchOutcome{
				{TID: tidA, Batch: "000001", State: "closed", Outcome: "balanced"},
				{TID: tidA, Batch: "000002", State: "open"},
				{TID: tidB, Batch: "000001", State: "uploaded", Outcome: "out of balance"},
			},
		},
		{
			MID: mid1, SettlementDate: "2026-06-15", Mode: "T1", Currency: "156",
			FundsAvailable: date(6, 15).Add(9 * time.Hour),
			Figures:        figures(1, 5000, 25),
			ByCardType:     map[string]*report.Figures{"debit": fp(figures(1, 5000, 25))},
			Batches:        []report.BatchOutcome{{TID: tidA, Batch: "000002", State: "open"}},
		},
		{
			MID: mid2, SettlementDate: "2026-06-12", Mode: "T1", Currency: "156",
			FundsAvailable: date(6, 12).Add(9 * time.Hour),
			Figures:        figures(1, 100, 1),
			ByCardType:     map[string]*report.Figures{"credit": fp(figures(1, 100, 1))},
			Batches:        []report.BatchOutcome{{TID: tidA, Batch: "000001", State: "reconciling", Outcome: "balanced"}},
		},
	}
	got := report.Settlements(records, batches, report.Filter{})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Settlements:\n got %s\nwant %s", dump(t, got), dump(t, want))
	}
}

func dump(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// A refund is a credit: negative gross; its fee is none (kept) or given
// back (returned: a negative fee).
func TestSettlementsRefunds(t *testing.T) {
	tests := []struct {
		name    string
		records []record
		want    report.Figures
	}{
		{"kept", []record{
			rec(mid1, tidA, "000001", txn.Refund, "approved", 10000, terms("T1", date(6, 12), "debit", 0)),
		}, report.Figures{Count: 1, Gross: -10000, Fees: 0, Net: -10000}},
		{"returned", []record{
			rec(mid1, tidA, "000001", txn.Refund, "approved", 10000, terms("T1", date(6, 12), "debit", -50)),
		}, report.Figures{Count: 1, Gross: -10000, Fees: -50, Net: -9950}},
		{"a sale and its refund, fee kept", []record{
			rec(mid1, tidA, "000001", txn.Sale, "approved", 10000, terms("T1", date(6, 12), "debit", 50)),
			rec(mid1, tidA, "000001", txn.Refund, "approved", 10000, terms("T1", date(6, 12), "debit", 0)),
		}, report.Figures{Count: 2, Gross: 0, Fees: 50, Net: -50}},
		{"a sale and its refund, fee returned", []record{
			rec(mid1, tidA, "000001", txn.Sale, "approved", 10000, terms("T1", date(6, 12), "debit", 50)),
			rec(mid1, tidA, "000001", txn.Refund, "approved", 10000, terms("T1", date(6, 12), "debit", -50)),
		}, report.Figures{Count: 2, Gross: 0, Fees: 0, Net: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := report.Settlements(tt.records, nil, report.Filter{})
			if len(got) != 1 {
				t.Fatalf("%d settlements, want 1: %s", len(got), dump(t, got))
			}
			if got[0].Figures != tt.want {
				t.Errorf("figures %+v, want %+v", got[0].Figures, tt.want)
			}
			if d := got[0].ByCardType["debit"]; d == nil || *d != tt.want {
				t.Errorf("debit figures %+v, want %+v", d, tt.want)
			}
		})
	}
}

// fee-on-void: a voided sale keeps its fee (and pays nothing); without the
// fault, or for a reversal, it carries nothing.
func TestSettlementsFeeOnVoid(t *testing.T) {
	faulty := terms("T1", date(6, 12), "debit", 50, "fee-on-void")
	tests := []struct {
		name    string
		records []record
		want    *report.Figures // nil: no settlement at all
		faults  []string
	}{
		{"a voided sale charged its fee", []record{
			rec(mid1, tidA, "000001", txn.Sale, "voided", 10000, faulty),
			rec(mid1, tidA, "000001", txn.Void, "approved", 10000, terms("T1", date(6, 12), "debit", 0, "fee-on-void")),
		}, fp(report.Figures{Count: 1, Gross: 0, Fees: 50, Net: -50}), []string{"fee-on-void"}},
		{"beside an approved sale", []record{
			rec(mid1, tidA, "000001", txn.Sale, "approved", 20000, terms("T1", date(6, 12), "debit", 100, "fee-on-void")),
			rec(mid1, tidA, "000001", txn.Sale, "voided", 10000, faulty),
		}, fp(report.Figures{Count: 2, Gross: 20000, Fees: 150, Net: 19850}), []string{"fee-on-void"}},
		{"a voided sale without the fault", []record{
			rec(mid1, tidA, "000001", txn.Sale, "voided", 10000, terms("T1", date(6, 12), "debit", 50)),
		}, nil, nil},
		{"a reversed sale with the fault", []record{
			rec(mid1, tidA, "000001", txn.Sale, "reversed", 10000, faulty),
		}, nil, nil},
		{"a declined sale with the fault", []record{
			rec(mid1, tidA, "000001", txn.Sale, "declined", 10000, faulty),
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := report.Settlements(tt.records, nil, report.Filter{})
			if tt.want == nil {
				if len(got) != 0 {
					t.Errorf("settlements %s, want none", dump(t, got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d settlements, want 1: %s", len(got), dump(t, got))
			}
			if got[0].Figures != *tt.want {
				t.Errorf("figures %+v, want %+v", got[0].Figures, *tt.want)
			}
			if !reflect.DeepEqual(got[0].Faults, tt.faults) {
				t.Errorf("faults %v, want %v", got[0].Faults, tt.faults)
			}
		})
	}
}

// Each books fault is named once, in the order the transactions first show it.
func TestSettlementsFaults(t *testing.T) {
	records := []record{
		rec(mid1, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 12), "debit", 1, "fee-no-cap")),
		rec(mid1, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 12), "debit", 1)),
		rec(mid1, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 12), "debit", 1, "fee-rounding", "fee-no-cap")),
		rec(mid1, tidA, "000001", txn.Sale, "reversed", 100, terms("T1", date(6, 12), "debit", 1, "holiday-ignored")),
		rec(mid1, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 15), "debit", 1, "holiday-ignored")),
	}
	got := report.Settlements(records, nil, report.Filter{})
	if len(got) != 2 {
		t.Fatalf("%d settlements, want 2: %s", len(got), dump(t, got))
	}
	if want := []string{"fee-no-cap", "fee-rounding"}; !reflect.DeepEqual(got[0].Faults, want) {
		t.Errorf("2026-06-12 faults %v, want %v", got[0].Faults, want)
	}
	if want := []string{"holiday-ignored"}; !reflect.DeepEqual(got[1].Faults, want) {
		t.Errorf("2026-06-15 faults %v, want %v", got[1].Faults, want)
	}
}

// A transaction without a card type (the host's own terms) is counted under
// "unknown"; a batch the batch list does not know has no state.
func TestSettlementsUnknowns(t *testing.T) {
	records := []record{
		rec(mid1, tidA, "000003", txn.Sale, "approved", 100, terms("T1", date(6, 12), "", 0)),
	}
	got := report.Settlements(records, nil, report.Filter{})
	if len(got) != 1 {
		t.Fatalf("%d settlements, want 1", len(got))
	}
	if want := map[string]*report.Figures{"unknown": fp(figures(1, 100, 0))}; !reflect.DeepEqual(got[0].ByCardType, want) {
		t.Errorf("by card type %s, want %s", dump(t, got[0].ByCardType), dump(t, want))
	}
	if want := []report.BatchOutcome{{TID: tidA, Batch: "000003"}}; !reflect.DeepEqual(got[0].Batches, want) {
		t.Errorf("batches %+v, want %+v", got[0].Batches, want)
	}
}

// Filters select by merchant, settlement date and mode; empty ones match all.
func TestSettlementsFilter(t *testing.T) {
	records := []record{
		rec(mid1, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 12), "debit", 1)),
		rec(mid1, tidA, "000001", txn.Sale, "approved", 200, terms("T1", date(6, 15), "debit", 1)),
		rec(mid1, tidA, "000001", txn.Sale, "approved", 300, terms("T0", date(6, 12), "debit", 1)),
		rec(mid2, tidA, "000001", txn.Sale, "approved", 400, terms("T1", date(6, 12), "debit", 1)),
	}
	tests := []struct {
		filter report.Filter
		want   []int64 // the gross of each settlement, in order
	}{
		{report.Filter{}, []int64{300, 100, 200, 400}},
		{report.Filter{MID: mid1}, []int64{300, 100, 200}},
		{report.Filter{MID: mid2}, []int64{400}},
		{report.Filter{Date: "2026-06-12"}, []int64{300, 100, 400}},
		{report.Filter{Date: "2026-06-15"}, []int64{200}},
		{report.Filter{Mode: "T0"}, []int64{300}},
		{report.Filter{Mode: "T1"}, []int64{100, 200, 400}},
		{report.Filter{MID: mid1, Date: "2026-06-12", Mode: "T1"}, []int64{100}},
		{report.Filter{MID: mid2, Mode: "T0"}, nil},
		{report.Filter{MID: "898100012349999"}, nil},
		{report.Filter{Date: "2026-6-12"}, nil},
	}
	for _, tt := range tests {
		got := report.Settlements(records, nil, tt.filter)
		var gross []int64
		for _, s := range got {
			gross = append(gross, s.Gross)
		}
		if !reflect.DeepEqual(gross, tt.want) {
			t.Errorf("%+v: gross %v, want %v", tt.filter, gross, tt.want)
		}
		if got == nil {
			t.Errorf("%+v: nil, want an empty list (it is JSON [], not null)", tt.filter)
		}
	}
}

// Currencies are settled apart, and the report comes out in the same order
// every time.
func TestSettlementsCurrencies(t *testing.T) {
	usd := rec(mid1, tidA, "000001", txn.Sale, "approved", 700, terms("T1", date(6, 12), "credit", 4))
	usd.Currency = "840"
	records := []record{
		rec(mid1, tidA, "000001", txn.Sale, "approved", 100, terms("T1", date(6, 12), "debit", 1)),
		usd,
		rec(mid1, tidA, "000001", txn.Sale, "approved", 200, terms("T1", date(6, 12), "debit", 1)),
	}
	got := report.Settlements(records, nil, report.Filter{})
	byCurrency := map[string]int64{}
	for _, s := range got {
		byCurrency[s.Currency] = s.Gross
	}
	if want := map[string]int64{"156": 300, "840": 700}; len(got) != 2 || !reflect.DeepEqual(byCurrency, want) {
		t.Fatalf("gross by currency %v in %d settlements, want %v in 2", byCurrency, len(got), want)
	}
	first := got[0].Currency
	for range 50 {
		if again := report.Settlements(records, nil, report.Filter{}); again[0].Currency != first {
			t.Errorf("regression (ledger/ledger.go Settlements): settlements that differ only by currency come out in "+
				"random order (%s first, then %s first): the sort has no currency tie-break", first, again[0].Currency)
		}
	}
}

// The CSV has one row per settlement and card type and a total row, with
// amounts in major units.
func TestWriteSettlementsCSV(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	ss := []report.Settlement{
		{
			MID: mid1, SettlementDate: "2026-06-12", Mode: "T1", Currency: "156",
			FundsAvailable: date(6, 12).Add(9 * time.Hour),
			Figures:        figures(3, 9234, 57),
			ByCardType:     map[string]*report.Figures{"debit": fp(figures(2, 8000, 50)), "credit": fp(figures(1, 1234, 7))},
			Batches: []report.BatchOutcome{
				{TID: tidA, Batch: "000001", State: "closed", Outcome: "balanced"},
				{TID: tidB, Batch: "000001", State: "open"},
			},
			Faults: []string{"fee-no-cap", "fee-rounding"},
		},
		{
			MID: mid2, SettlementDate: "2026-06-11", Mode: "T0", Currency: "156",
			FundsAvailable: time.Date(2026, 6, 11, 14, 30, 0, 0, cst),
			Figures:        figures(2, -10005, -50),
			ByCardType:     map[string]*report.Figures{"debit": fp(figures(2, -10005, -50))},
			Batches:        []report.BatchOutcome{{TID: tidA, Batch: "000007", State: "uploaded", Outcome: "out of balance"}},
		},
	}
	want := `mid,settlement_date,mode,currency,card_type,count,gross,fees,net,funds_available,batches,faults
898100012340001,2026-06-12,T1,156,credit,1,12.34,0.07,12.27,2026-06-12T09:00:00Z,T0000001/000001:closed:balanced T0000002/000001:open,fee-no-cap fee-rounding
898100012340001,2026-06-12,T1,156,debit,2,80.00,0.50,79.50,2026-06-12T09:00:00Z,T0000001/000001:closed:balanced T0000002/000001:open,fee-no-cap fee-rounding
898100012340001,2026-06-12,T1,156,total,3,92.34,0.57,91.77,2026-06-12T09:00:00Z,T0000001/000001:closed:balanced T0000002/000001:open,fee-no-cap fee-rounding
898100012340002,2026-06-11,T0,156,debit,2,-100.05,-0.50,-99.55,2026-06-11T14:30:00+08:00,T0000001/000007:uploaded:out of balance,
898100012340002,2026-06-11,T0,156,total,2,-100.05,-0.50,-99.55,2026-06-11T14:30:00+08:00,T0000001/000007:uploaded:out of balance,
`
	var buf bytes.Buffer
	if err := report.WriteSettlementsCSV(&buf, ss); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}

	buf.Reset()
	if err := report.WriteSettlementsCSV(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), strings.SplitAfter(want, "\n")[0]; got != want {
		t.Errorf("CSV of nothing: %q, want the header alone %q", got, want)
	}
}

// The report of real records, written as CSV.
func TestSettlementsCSVFromRecords(t *testing.T) {
	records := []record{
		rec(mid1, tidA, "000001", txn.Sale, "approved", 10000, terms("T1", date(6, 12), "debit", 50)),
		rec(mid1, tidA, "000001", txn.Refund, "approved", 2000, terms("T1", date(6, 12), "debit", -10)),
		rec(mid1, tidA, "000001", txn.Sale, "voided", 3000, terms("T1", date(6, 12), "credit", 18)),
	}
	batches := []books.Batch{{MID: mid1, TID: tidA, Batch: "000001", State: "reconciling", Outcome: "out of balance"}}
	var buf bytes.Buffer
	if err := report.WriteSettlementsCSV(&buf, report.Settlements(records, batches, report.Filter{})); err != nil {
		t.Fatal(err)
	}
	want := `mid,settlement_date,mode,currency,card_type,count,gross,fees,net,funds_available,batches,faults
898100012340001,2026-06-12,T1,156,debit,2,80.00,0.40,79.60,2026-06-12T09:00:00Z,T0000001/000001:reconciling:out of balance,
898100012340001,2026-06-12,T1,156,total,2,80.00,0.40,79.60,2026-06-12T09:00:00Z,T0000001/000001:reconciling:out of balance,
`
	if got := buf.String(); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}

// Amounts are minor units written with two decimals, the sign in front.
func TestCSVMoney(t *testing.T) {
	tests := []struct {
		gross int64
		want  string
	}{
		{0, "0.00"}, {5, "0.05"}, {10, "0.10"}, {99, "0.99"}, {100, "1.00"}, {1234, "12.34"},
		{123456789, "1234567.89"}, {-1, "-0.01"}, {-5, "-0.05"}, {-100, "-1.00"}, {-1234, "-12.34"},
	}
	for _, tt := range tests {
		ss := []report.Settlement{{
			MID: mid1, SettlementDate: "2026-06-12", Mode: "T1", Currency: "156",
			Figures: report.Figures{Count: 1, Gross: tt.gross}, ByCardType: map[string]*report.Figures{},
		}}
		var buf bytes.Buffer
		if err := report.WriteSettlementsCSV(&buf, ss); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if cols := strings.Split(lines[len(lines)-1], ","); len(cols) < 7 || cols[6] != tt.want {
			t.Errorf("gross %d written as %q, want %s", tt.gross, lines[len(lines)-1], tt.want)
		}
	}
}

// The batches CSV: one row per batch, the terminal's totals empty until it
// settles, the differences in one field.
func TestWriteBatchesCSV(t *testing.T) {
	claimed := txn.Totals{DebitCount: 3, DebitAmount: 6500, CreditCount: 1, CreditAmount: 300}
	bs := []books.Batch{
		{
			MID: mid1, TID: tidA, Batch: "000001", State: "closed", Outcome: "out of balance",
			Host:    txn.Totals{DebitCount: 3, DebitAmount: 6000, CreditCount: 1, CreditAmount: 300},
			Claimed: &claimed, Uploaded: 2,
			Differences: []string{"STAN 000002: amount 2500 uploaded, 2000 approved", "STAN 000003: approved by the host, not uploaded"},
		},
		{MID: mid1, TID: tidB, Batch: "000001", State: "open", Host: txn.Totals{DebitCount: 1, DebitAmount: 1000}},
	}
	want := `mid,tid,batch,state,outcome,host_debits,host_debit_amount,host_credits,host_credit_amount,terminal_debits,terminal_debit_amount,terminal_credits,terminal_credit_amount,uploaded,differences
898100012340001,T0000001,000001,closed,out of balance,3,60.00,1,3.00,3,65.00,1,3.00,2,"STAN 000002: amount 2500 uploaded, 2000 approved; STAN 000003: approved by the host, not uploaded"
898100012340001,T0000002,000001,open,,1,10.00,0,0.00,,,,,0,
`
	var buf bytes.Buffer
	if err := report.WriteBatchesCSV(&buf, bs); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}

// From the wire to the report: a built-in books-fault scenario over the real
// host, its records reported the way README shows.
func TestReportOfBuiltInScenarios(t *testing.T) {
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	cal := books.Calendar{CutOver: books.DefaultCutOver, Location: time.UTC}
	noon := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC) // Thursday
	type req struct {
		typ    txn.Type
		stan   string
		amount int64
		pan    string
		voids  int // 1 + the index of the request whose RRN a void names
	}
	tests := []struct {
		scenario string
		reqs     []req
		want     string
	}{
		{"fee-no-cap", []req{
			{txn.Sale, "000001", 1000000, "6222021234567890123", 0},
			{txn.Sale, "000002", 1234, "4761739001010010", 0},
		}, `mid,settlement_date,mode,currency,card_type,count,gross,fees,net,funds_available,batches,faults
898100012340001,2026-06-12,T1,156,credit,1,12.34,0.07,12.27,2026-06-12T09:00:00Z,T0000001/000001:open,fee-no-cap
898100012340001,2026-06-12,T1,156,debit,1,10000.00,50.00,9950.00,2026-06-12T09:00:00Z,T0000001/000001:open,fee-no-cap
898100012340001,2026-06-12,T1,156,total,2,10012.34,50.07,9962.27,2026-06-12T09:00:00Z,T0000001/000001:open,fee-no-cap
`},
		{"fee-on-void", []req{
			{txn.Sale, "000001", 10000, "6222021234567890123", 0},
			{txn.Sale, "000002", 20000, "6222021234567890123", 0},
			{txn.Void, "000003", 10000, "6222021234567890123", 1},
		}, `mid,settlement_date,mode,currency,card_type,count,gross,fees,net,funds_available,batches,faults
898100012340001,2026-06-12,T1,156,debit,2,200.00,1.50,198.50,2026-06-12T09:00:00Z,T0000001/000001:open,fee-on-void
898100012340001,2026-06-12,T1,156,total,2,200.00,1.50,198.50,2026-06-12T09:00:00Z,T0000001/000001:open,fee-on-void
`},
		{"t0-funds-late", []req{
			{txn.Sale, "000001", 10000, "6222021234567890123", 0},
		}, `mid,settlement_date,mode,currency,card_type,count,gross,fees,net,funds_available,batches,faults
898100012340001,2026-06-11,T0,156,debit,1,100.00,0.00,100.00,2026-06-12T14:00:00Z,T0000001/000001:open,
898100012340001,2026-06-11,T0,156,total,1,100.00,0.00,100.00,2026-06-12T14:00:00Z,T0000001/000001:open,
`},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			h, err := books.New(books.Config{Calendar: cal, Seed: 1, BalancedCloses: true})
			if err != nil {
				t.Fatal(err)
			}
			sc, ok := lib.Get(tt.scenario)
			if !ok {
				t.Fatalf("no built-in scenario %s", tt.scenario)
			}
			e := scenarios.NewEngine(h, 1, time.UTC)
			e.Calendar = cal
			e.SetGlobal(sc)
			var rrns []string
			for i, q := range tt.reqs {
				r := &txn.Request{
					Type: q.typ, MTI: "0200", Proc: "000000", STAN: q.stan, Amount: q.amount, PAN: q.pan,
					TID: tidA, MID: mid1, Currency: "156",
				}
				if q.voids > 0 {
					r.Proc, r.RRN = "020000", rrns[q.voids-1]
				}
				r.Fingerprint = r.STAN + r.PAN
				p := e.Plan(r, noon.Add(time.Duration(i)*time.Minute))
				if p.Decision.RC != "00" {
					t.Fatalf("request %d: rc %s (%s)", i, p.Decision.RC, p.Decision.Note)
				}
				rrns = append(rrns, p.Decision.RRN)
			}
			var buf bytes.Buffer
			if err := report.WriteSettlementsCSV(&buf, report.Settlements(h.Records(), h.Batches(), report.Filter{})); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("CSV:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// The report totals every transaction a terminal's books hold, those folded
// out of its 10,000-transaction window too: its counts, gross, fees and net
// are what the host approved, by settlement date, mode and card type.
func TestSettlementsCountFoldedTransactions(t *testing.T) {
	cal := books.Calendar{CutOver: books.DefaultCutOver, Location: time.UTC}
	h, err := books.New(books.Config{Calendar: cal, Seed: 1, BalancedCloses: true})
	if err != nil {
		t.Fatal(err)
	}
	noon := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []txn.Terms{
		terms("T1", date(6, 12), "debit", 0),
		terms("T1", date(6, 12), "credit", 0),
		terms("T1", date(6, 15), "debit", 0, "fee-on-void"),
		terms("T0", date(6, 11), "credit", 0),
		// One instant, two settlement dates: 12 June in Shanghai, 11 June
		// in UTC.
		terms("T1", time.Date(2026, 6, 12, 1, 0, 0, 0, shanghai), "debit", 0),
		terms("T1", time.Date(2026, 6, 11, 17, 0, 0, 0, time.UTC), "debit", 0),
	}
	// booked is what the host approved, and its state now.
	type booked struct {
		typ    txn.Type
		amount int64
		terms  txn.Terms
		voided bool
	}
	var books []*booked
	stan := 0
	send := func(tid string, r txn.Request, at time.Time) txn.Decision {
		t.Helper()
		stan++
		r.MID, r.TID, r.STAN, r.PAN, r.Currency = mid1, tid, fmt.Sprintf("%06d", stan%999_999+1), "6222021234567890123", "156"
		r.Fingerprint = r.STAN + "|" + r.MTI + "|" + r.RRN
		return h.Decide(&r, at)
	}
	const n = 12_345
	for i := range n {
		at := noon.Add(time.Duration(i) * time.Second)
		tm := kinds[i%len(kinds)]
		amount := int64(100 + i%977)
		tm.Fee = amount / 200
		switch {
		case i%10 == 3: // a refund
			if d := send(tidA, txn.Request{Type: txn.Refund, MTI: "0200", Proc: "200000", Amount: amount, Terms: &tm}, at); d.RC != "00" {
				t.Fatalf("refund %d: %s (%s)", i, d.RC, d.Note)
			}
			books = append(books, &booked{txn.Refund, amount, tm, false})
		case i%10 == 5: // a sale of nothing, declined
			if d := send(tidA, txn.Request{Type: txn.Sale, MTI: "0200", Proc: "000000", Amount: 0, Terms: &tm}, at); d.RC != "13" {
				t.Fatalf("sale of nothing %d: %s", i, d.RC)
			}
		case i%10 == 7: // a sale, voided
			d := send(tidA, txn.Request{Type: txn.Sale, MTI: "0200", Proc: "000000", Amount: amount, Terms: &tm}, at)
			if d.RC != "00" {
				t.Fatalf("sale %d: %s (%s)", i, d.RC, d.Note)
			}
			if tm.Mode == "T0" { // cannot be voided
				books = append(books, &booked{txn.Sale, amount, tm, false})
				break
			}
			if v := send(tidA, txn.Request{Type: txn.Void, MTI: "0200", Proc: "020000", RRN: d.RRN, Amount: amount}, at); v.RC != "00" {
				t.Fatalf("void %d: %s (%s)", i, v.RC, v.Note)
			}
			books = append(books, &booked{txn.Sale, amount, tm, true})
		case i%10 == 9: // a pre-authorisation and its completion
			p := send(tidA, txn.Request{Type: txn.PreAuth, MTI: "0100", Proc: "300000", Amount: amount + 50}, at)
			d := send(tidA, txn.Request{Type: txn.Completion, MTI: "0200", Proc: "000000", Condition: "06", AuthCode: p.AuthCode, Amount: amount, Terms: &tm}, at)
			if p.RC != "00" || d.RC != "00" {
				t.Fatalf("pre-authorisation %d: %s, completion %s (%s)", i, p.RC, d.RC, d.Note)
			}
			books = append(books, &booked{txn.Completion, amount, tm, false})
		default:
			if d := send(tidA, txn.Request{Type: txn.Sale, MTI: "0200", Proc: "000000", Amount: amount, Terms: &tm}, at); d.RC != "00" {
				t.Fatalf("sale %d: %s (%s)", i, d.RC, d.Note)
			}
			books = append(books, &booked{txn.Sale, amount, tm, false})
		}
		if i == n/2 { // a settlement closes the first batch half way
			tot := h.Batches()[0].Host
			d := send(tidA, txn.Request{Type: txn.Settlement, MTI: "0500", Proc: "920000", Totals: tot}, at)
			if d.RC != "00" {
				t.Fatalf("settlement: %s (%s)", d.RC, d.Note)
			}
		}
	}
	// Another terminal's few.
	for i := range 3 {
		tm := kinds[0]
		tm.Fee = 5
		if d := send(tidB, txn.Request{Type: txn.Sale, MTI: "0200", Proc: "000000", Amount: 1000, Terms: &tm}, noon); d.RC != "00" {
			t.Fatalf("sale %d on %s: %s", i, tidB, d.RC)
		}
		books = append(books, &booked{txn.Sale, 1000, tm, false})
	}

	folded := 0
	for _, r := range h.Records() {
		folded += r.Folded
	}
	if folded < 1000 {
		t.Fatalf("%d transactions folded, want over 1000: the test does not test folding", folded)
	}

	// What the host approved, by the report's rules: sales and completions
	// debits, refunds credits, voided ones nothing but the fee a
	// fee-on-void charges.
	type key struct{ date, mode string }
	want := map[key]report.Figures{}
	wantByCard := map[key]map[string]report.Figures{}
	approved := 0
	for _, b := range books {
		gross, fee := b.amount, b.terms.Fee
		switch {
		case b.voided && len(b.terms.Faults) > 0:
			gross = 0
		case b.voided:
			continue
		case b.typ == txn.Refund:
			gross = -gross
		}
		approved++
		k := key{b.terms.Settlement.Format("2006-01-02"), b.terms.Mode}
		f := want[k]
		f.Count, f.Gross, f.Fees, f.Net = f.Count+1, f.Gross+gross, f.Fees+fee, f.Net+gross-fee
		want[k] = f
		if wantByCard[k] == nil {
			wantByCard[k] = map[string]report.Figures{}
		}
		c := wantByCard[k][b.terms.CardType]
		c.Count, c.Gross, c.Fees, c.Net = c.Count+1, c.Gross+gross, c.Fees+fee, c.Net+gross-fee
		wantByCard[k][b.terms.CardType] = c
	}

	ss := report.Settlements(h.Records(), h.Batches(), report.Filter{})
	got := map[key]report.Figures{}
	counted := 0
	for _, s := range ss {
		k := key{s.SettlementDate, s.Mode}
		got[k] = s.Figures
		counted += s.Count
		for ct, f := range s.ByCardType {
			if w := wantByCard[k][ct]; *f != w {
				t.Errorf("%s %s %s: %+v, want %+v", k.date, k.mode, ct, *f, w)
			}
		}
		if len(s.ByCardType) != len(wantByCard[k]) {
			t.Errorf("%s %s: card types %v, want %v", k.date, k.mode, s.ByCardType, wantByCard[k])
		}
		if len(s.Batches) == 0 {
			t.Errorf("%s %s: no batches", k.date, k.mode)
		}
	}
	if counted != approved {
		t.Errorf("the report counts %d transactions, the host approved %d", counted, approved)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report:\n%v\nwant what the host approved:\n%v", got, want)
	}
}
