package report

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acqsim/acqsim/books"
)

// WriteSettlementsCSV writes one row per settlement and card type, the way a
// merchant's statement lists them, with a total row per settlement.
func WriteSettlementsCSV(w io.Writer, ss []Settlement) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"mid", "settlement_date", "mode", "currency", "card_type", "count", "gross", "fees", "net", "funds_available", "batches", "faults"})
	for _, s := range ss {
		var batches []string
		for _, b := range s.Batches {
			batches = append(batches, b.TID+"/"+b.Batch+":"+b.State+orEmpty(":", b.Outcome))
		}
		row := func(cardType string, f Figures) {
			cw.Write([]string{s.MID, s.SettlementDate, s.Mode, s.Currency, cardType,
				strconv.Itoa(f.Count), money(f.Gross), money(f.Fees), money(f.Net),
				s.FundsAvailable.Format(time.RFC3339), strings.Join(batches, " "), strings.Join(s.Faults, " ")})
		}
		types := make([]string, 0, len(s.ByCardType))
		for t := range s.ByCardType {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			row(t, *s.ByCardType[t])
		}
		row("total", s.Figures)
	}
	cw.Flush()
	return cw.Error()
}

// WriteBatchesCSV writes one row per batch.
func WriteBatchesCSV(w io.Writer, bs []books.Batch) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"mid", "tid", "batch", "state", "outcome", "host_debits", "host_debit_amount", "host_credits", "host_credit_amount",
		"terminal_debits", "terminal_debit_amount", "terminal_credits", "terminal_credit_amount", "uploaded", "differences"})
	for _, b := range bs {
		claimed := []string{"", "", "", ""}
		if c := b.Claimed; c != nil {
			claimed = []string{strconv.Itoa(c.DebitCount), money(c.DebitAmount), strconv.Itoa(c.CreditCount), money(c.CreditAmount)}
		}
		cw.Write(append(append([]string{b.MID, b.TID, b.Batch, b.State, b.Outcome,
			strconv.Itoa(b.Host.DebitCount), money(b.Host.DebitAmount), strconv.Itoa(b.Host.CreditCount), money(b.Host.CreditAmount)},
			claimed...), strconv.Itoa(b.Uploaded), strings.Join(b.Differences, "; ")))
	}
	cw.Flush()
	return cw.Error()
}

// money writes minor units as a decimal with two places: 12345 -> 123.45.
func money(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return sign + strconv.FormatInt(n/100, 10) + "." + strconv.FormatInt(n%100/10, 10) + strconv.FormatInt(n%10, 10)
}

func orEmpty(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}
