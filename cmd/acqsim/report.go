package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/report"
)

type reportFlags struct {
	admin  adminFlags
	output string
	mid    string
	tid    string
	date   string
	mode   string
	state  string
}

func newReport() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report [settlements|batches]",
		Short: "Print a running host's settlement report or batches (from its admin API)",
		Long: `Print a running host's settlement report (per merchant and settlement date:
count, gross, fees and net by card type, funds-available time, the batches and
how they reconciled) or its batches (state, host and terminal totals, upload
differences), as a table, JSON or CSV. Without settlements or batches, it
prints the settlement report.`,
		Example: `  acqsim report --mid 898100012340001
  acqsim report settlements --date 2026-06-12 -o csv
  acqsim report batches --tid TERM0001 -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1 && args[0] != "settlements" && args[0] != "batches") {
				return usagef("report takes one of: settlements (the default), batches")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "table" && f.output != "json" && f.output != "csv" {
				return usagef("-o %q: want table, json or csv", f.output)
			}
			// The settlement report is what "report" means to most who type it.
			what := "settlements"
			if len(args) == 1 {
				what = args[0]
			}
			if err := f.check(what); err != nil {
				return err
			}
			return printReport(cmd.Context(), cmd.OutOrStdout(), what, f)
		},
	}
	fl := cmd.Flags()
	f.admin.register(fl)
	outputFlag(cmd, fl, &f.output, "table", "json", "csv")
	fl.StringVar(&f.mid, "mid", "", "only this merchant")
	fl.StringVar(&f.tid, "tid", "", "batches: only this terminal")
	fl.StringVar(&f.date, "date", "", "settlements: only this settlement date (YYYY-MM-DD)")
	fl.StringVar(&f.mode, "mode", "", "settlements: only "+oneOf(settlementModes))
	fl.StringVar(&f.state, "state", "", "batches: only "+oneOf(batchStates))
	completeFlag(cmd, "mode", settlementModes)
	completeFlag(cmd, "state", batchStates)
	return cmd
}

// settlementModes and batchStates are the values the admin API's reports
// hold: a filter for another matches nothing.
var (
	settlementModes = []string{"T0", "T1"}
	batchStates     = []string{books.BatchOpen, books.BatchReconciling, books.BatchUploaded, books.BatchClosed}
)

// check refuses a filter no report entry can match, and one the report asked
// for does not have, which the host would ignore: either way the table
// printed would not be what was asked for.
func (f reportFlags) check(what string) error {
	if f.date != "" {
		if _, err := time.Parse("2006-01-02", f.date); err != nil {
			return usagef("--date %q: want a settlement date as YYYY-MM-DD, e.g. 2026-06-12", f.date)
		}
	}
	if f.mode != "" && !slices.Contains(settlementModes, f.mode) {
		return usagef("--mode %q: want %s", f.mode, oneOf(settlementModes))
	}
	if f.state != "" && !slices.Contains(batchStates, f.state) {
		return usagef("--state %q: want %s", f.state, oneOf(batchStates))
	}
	// Each filter belongs to one report; the other's would ignore it.
	for _, filter := range []struct{ name, value, report string }{
		{"--date", f.date, "settlements"}, {"--mode", f.mode, "settlements"},
		{"--tid", f.tid, "batches"}, {"--state", f.state, "batches"},
	} {
		if filter.value != "" && filter.report != what {
			return usagef("%s filters report %s, not report %s", filter.name, filter.report, what)
		}
	}
	return nil
}

func printReport(ctx context.Context, w io.Writer, what string, f reportFlags) error {
	c := f.admin.client()
	settlements := report.Filter{MID: f.mid, Date: f.date, Mode: f.mode}
	batches := admin.BatchFilter{MID: f.mid, TID: f.tid, State: f.state}
	var body []byte
	var bs []books.Batch
	var ss []report.Settlement
	var err error
	switch {
	case what == "batches" && f.output == "csv":
		body, err = c.BatchesCSV(ctx, batches)
	case what == "batches":
		bs, body, err = c.Batches(ctx, batches)
	case f.output == "csv":
		body, err = c.SettlementsCSV(ctx, settlements)
	default:
		ss, body, err = c.Settlements(ctx, settlements)
	}
	if err != nil {
		return err
	}
	if f.output != "table" {
		_, err = w.Write(body)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	if what == "batches" {
		fmt.Fprintln(tw, "MID\tTID\tBATCH\tSTATE\tOUTCOME\tDEBITS\tCREDITS\tUPLOADED\tDIFFERENCES\t")
		for _, b := range bs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%s\t%d/%s\t%d\t%s\t\n", b.MID, b.TID, b.Batch, b.State, b.Outcome,
				b.Host.DebitCount, amount(b.Host.DebitAmount), b.Host.CreditCount, amount(b.Host.CreditAmount),
				b.Uploaded, strings.Join(b.Differences, "; "))
		}
		return nil
	}
	fmt.Fprintln(tw, "MID\tSETTLES\tMODE\tCARD\tCOUNT\tGROSS\tFEES\tNET\tFUNDS AVAILABLE\tFAULTS\t")
	for _, s := range ss {
		types := make([]string, 0, len(s.ByCardType))
		for typ := range s.ByCardType {
			types = append(types, typ)
		}
		sort.Strings(types)
		for _, typ := range types {
			fig := s.ByCardType[typ]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\t\t\n", s.MID, s.SettlementDate, s.Mode, typ, fig.Count, amount(fig.Gross), amount(fig.Fees), amount(fig.Net))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", s.MID, s.SettlementDate, s.Mode, "total", s.Count, amount(s.Gross), amount(s.Fees), amount(s.Net),
			s.FundsAvailable.Format("2006-01-02 15:04"), strings.Join(s.Faults, " "))
	}
	return nil
}

// amount writes minor units with two decimals.
func amount(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%02d", sign, n/100, n%100)
}
