package main

// The admin API's clients: acqsim journal, scenario, clock and verify drive a
// running host over HTTP, as acqsim report does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// adminFlags say where a running host's admin API is and how to get in.
type adminFlags struct {
	addr  string
	token string
}

func (f *adminFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.addr, "admin", "127.0.0.1:8584", "the host's admin API `address` (HOST:PORT or a URL)")
	// Not a flag default: --help would print the token.
	fl.StringVar(&f.token, "admin-token", "", "the admin API's `token`, sent as Authorization: Bearer (default $ACQSIM_ADMIN_TOKEN)")
}

// client returns a client for the API the flags name.
func (f adminFlags) client() *admin.Client {
	base := strings.TrimSuffix(f.addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	token := f.token
	if token == "" {
		token = os.Getenv("ACQSIM_ADMIN_TOKEN")
	}
	return &admin.Client{Base: base, Token: token}
}

// adminError says a failed call to the admin API as the CLI's flags know
// it: an address that is no URL is a usage error of --admin, and a refused
// token names the flag that gives one.
func adminError(err error) error {
	var be *admin.BaseError
	if errors.As(err, &be) {
		return usagef("--admin %q: %v", be.Base, be.Err)
	}
	var he *admin.HostError
	if errors.As(err, &he) && he.Code == http.StatusUnauthorized {
		return fmt.Errorf("%w (give --admin-token or set ACQSIM_ADMIN_TOKEN)", err)
	}
	return err
}

// nArgs wants exactly n arguments, or says how the command is used.
func nArgs(n int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s", usage)
		}
		return nil
	}
}

// outputFlag adds -o with its choices, completed by the shell.
func outputFlag(cmd *cobra.Command, fl *pflag.FlagSet, p *string, choices ...string) {
	fl.StringVarP(p, "output", "o", choices[0], oneOf(choices))
	cmd.RegisterFlagCompletionFunc("output", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return prefixed(choices, prefix), cobra.ShellCompDirectiveNoFileComp
	})
}

func checkOutput(o string, choices ...string) error {
	if !slices.Contains(choices, o) {
		return usagef("-o %q: want %s", o, oneOf(choices))
	}
	return nil
}

// oneOf lists choices: "a, b or c".
func oneOf(choices []string) string {
	if len(choices) < 2 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// txnKinds are the journal's kinds of exchange, for completion: the
// transaction types, and the journal's own "reset" of a terminal.
var txnKinds = func() []string {
	var kinds []string
	for _, i := range txn.Types {
		kinds = append(kinds, string(i.Type))
	}
	return append(kinds, "reset")
}()

func completeTxn(cmd *cobra.Command, name string) {
	cmd.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return prefixed(txnKinds, prefix), cobra.ShellCompDirectiveNoFileComp
	})
}

// prefixed keeps the completions that start with what was typed.
func prefixed(list []string, prefix string) []string {
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// --- acqsim journal ---

type journalFlags struct {
	admin                             adminFlags
	tid, mid, stan, rrn, mti, txn, rc string
	limit                             int
	follow                            bool
	output                            string
}

func newJournal() *cobra.Command {
	var f journalFlags
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Print a running host's journal, or follow it live (from its admin API)",
		Long: `Print the exchanges a running host journalled, oldest first, as a table (time,
terminal, MTI, kind, STAN, amount, response code, latency, and the scenario
rule and action that decided it) or as JSON. With --follow, print exchanges as
they happen until interrupted (-o json: one object a line); --limit N first
prints the latest N.`,
		Example: `  acqsim journal --tid TERM0001 --txn sale
  acqsim journal --rc 51 -o json
  acqsim journal --follow --tid TERM0001 --limit 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(f.output, "table", "json"); err != nil {
				return err
			}
			if f.limit < 0 || f.limit > admin.MaxJournalLimit {
				return usagef("--limit %d: want a number of exchanges up to %d, 0 for all", f.limit, admin.MaxJournalLimit)
			}
			if f.follow {
				return followJournal(cmd.Context(), cmd.OutOrStdout(), f)
			}
			return printJournal(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	f.admin.register(fl)
	fl.BoolVarP(&f.follow, "follow", "f", false, "print exchanges as they happen, until interrupted")
	fl.StringVar(&f.tid, "tid", "", "only this terminal (F41)")
	fl.StringVar(&f.mid, "mid", "", "only this merchant (F42)")
	fl.StringVar(&f.stan, "stan", "", "only this trace number (F11)")
	fl.StringVar(&f.rrn, "rrn", "", "only this retrieval reference number (F37)")
	fl.StringVar(&f.mti, "mti", "", "only requests of this MTI, e.g. 0200")
	fl.StringVar(&f.txn, "txn", "", "only this kind: signon, sale, void, reversal, settlement, ...")
	fl.StringVar(&f.rc, "rc", "", "only this response code (F39)")
	fl.IntVar(&f.limit, "limit", 0, "only the latest `N` (0: all); with --follow, first print the latest N")
	outputFlag(cmd, fl, &f.output, "table", "json")
	completeTxn(cmd, "txn")
	return cmd
}

func (f journalFlags) filter() journal.Filter {
	return journal.Filter{TID: f.tid, MID: f.mid, STAN: f.stan, RRN: f.rrn, MTI: f.mti, Txn: f.txn, RC: f.rc}
}

// printJournal prints the latest --limit exchanges, or all of them: the
// host answers a page at a time, and the table is printed as the pages come.
func printJournal(ctx context.Context, w io.Writer, f journalFlags) error {
	filter := f.filter()
	filter.Limit = f.limit
	var all []json.RawMessage // -o json: one array, however many pages
	var first []byte
	pages := 0
	err := f.admin.client().JournalPages(ctx, filter, func(p admin.Page) error {
		if pages++; pages == 1 {
			first = p.Raw
			if f.output == "table" {
				fmt.Fprint(w, journalHeader())
			}
		}
		if f.output == "table" {
			for i := range p.Entries {
				fmt.Fprint(w, journalRow(&p.Entries[i]))
			}
			return nil
		}
		es, err := rawEntries(p)
		all = append(all, es...)
		return err
	})
	if err != nil || f.output != "json" {
		return err
	}
	if pages == 1 {
		_, err = w.Write(first) // the host's own answer, as it was
		return err
	}
	out, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// rawEntries are a page's entries as the host wrote them.
func rawEntries(p admin.Page) ([]json.RawMessage, error) {
	var es []json.RawMessage
	if err := json.Unmarshal(p.Raw, &es); err != nil {
		return nil, fmt.Errorf("the host's answer to GET /journal does not parse: %w", err)
	}
	return es, nil
}

// followJournal prints exchanges as the host journals them. It subscribes
// before it reads the latest ones, so that none falls between the two, and
// skips what the stream repeats.
func followJournal(ctx context.Context, w io.Writer, f journalFlags) error {
	c := f.admin.client()
	stream, err := c.Follow(ctx, f.filter())
	if err != nil {
		return err
	}
	defer stream.Close()
	if f.output == "table" {
		fmt.Fprint(w, journalHeader())
	}
	var last uint64
	if f.limit > 0 {
		latest := f.filter()
		latest.Limit = f.limit
		p, err := c.JournalPage(ctx, latest)
		if err != nil {
			return err
		}
		raws, err := rawEntries(p)
		if err != nil {
			return err
		}
		for i := range p.Entries {
			if last, err = printStreamed(w, f.output, &p.Entries[i], raws[i]); err != nil {
				return err
			}
		}
	}
	for {
		ev, err := stream.Next()
		switch {
		case err == io.EOF:
			return nil // the host ended the stream: it is shutting down
		case err != nil && ctx.Err() != nil:
			return nil // interrupted: the way a follow ends
		case err != nil:
			return fmt.Errorf("reading the journal stream: %w", err)
		case ev.Entry == nil || ev.Entry.Seq <= last:
			continue
		}
		if last, err = printStreamed(w, f.output, ev.Entry, ev.Data); err != nil {
			return err
		}
	}
}

// printStreamed prints one entry, as a row or as its JSON (raw) on a line,
// and returns its seq.
func printStreamed(w io.Writer, output string, e *journal.Entry, raw []byte) (uint64, error) {
	if output == "json" {
		var line bytes.Buffer
		if err := json.Compact(&line, raw); err != nil {
			return 0, err
		}
		line.WriteByte('\n')
		_, err := w.Write(line.Bytes())
		return e.Seq, err
	}
	_, err := fmt.Fprint(w, journalRow(e))
	return e.Seq, err
}

// The journal table has fixed columns, so that the rows --follow prints one
// at a time line up.
const journalFormat = "%-23s  %-8s  %-4s  %-12s  %-6s  %12s  %-2s  %9s  %-16s  %s\n"

func journalHeader() string {
	return fmt.Sprintf(journalFormat, "TIME", "TID", "MTI", "TXN", "STAN", "AMOUNT", "RC", "LATENCY", "RULE", "ACTION")
}

func journalRow(e *journal.Entry) string {
	c := journalCells(e)
	return fmt.Sprintf(journalFormat, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9])
}

// journalCells are an entry's cells in the journal table, none empty.
func journalCells(e *journal.Entry) []any {
	amt := ""
	if e.Amount != 0 {
		amt = amount(e.Amount)
	}
	action := e.Action
	if action == "" && e.Error != "" {
		action = "error: " + e.Error
	}
	return []any{e.Time.Format("2006-01-02 15:04:05.000"), dash(e.TID), dash(e.MTI), dash(e.Txn),
		dash(e.STAN), dash(amt), dash(e.RC), latency(e.LatencyUS), dash(e.Rule), dash(action)}
}

// dash fills an empty cell, so that every row has every column.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func latency(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	case us < 1_000_000:
		return fmt.Sprintf("%.1fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%.2fs", float64(us)/1e6)
}

// --- acqsim scenario ---

// newScenario drives a running host's scenarios; `acqsim scenarios` lists
// the built-in library without one.
func newScenario() *cobra.Command {
	var af adminFlags
	var tid, output string
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Choose the scenario a running host plays, for every terminal or one (from its admin API)",
		Long: `Choose the scenario a running host plays, for every terminal or one, and print
what each terminal then gets; -o json prints the host's answer instead.`,
		Example: `  acqsim scenario use insufficient-funds
  acqsim scenario use timeout --terminal TERM0001
  acqsim scenario load my-scenario.yaml
  acqsim scenario clear --terminal TERM0001
  acqsim scenario show -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("scenario needs a subcommand: use NAME, load FILE, clear or show")
		},
	}
	pf := cmd.PersistentFlags()
	af.register(pf)
	pf.StringVar(&tid, "terminal", "", "only this terminal (`TID`), instead of every terminal without a scenario of its own")
	outputFlag(cmd, pf, &output, "table", "json")

	// change sets (or with no ref, clears) the scenario of every terminal
	// or of --terminal, and prints the host's answer: what the terminals
	// get now.
	change := func(cmd *cobra.Command, ref *admin.ScenarioRef) error {
		c, ctx, w := af.client(), cmd.Context(), cmd.OutOrStdout()
		var line string
		var raw []byte
		var err error
		switch {
		case tid == "":
			var g admin.GlobalScenario
			if ref == nil {
				g, raw, err = c.ClearScenario(ctx)
			} else {
				g, raw, err = c.SetScenario(ctx, *ref)
			}
			line = "every terminal without its own: " + orDefault(g.Global)
		default:
			var ts admin.TerminalScenario
			if ref == nil {
				ts, raw, err = c.Unbind(ctx, tid)
			} else {
				ts, raw, err = c.Bind(ctx, tid, *ref)
			}
			line = fmt.Sprintf("terminal %s: %s", tid, orGlobal(ts.Scenario))
		}
		if err != nil {
			return err
		}
		if output == "json" {
			_, err = w.Write(raw)
		} else {
			_, err = fmt.Fprintln(w, line)
		}
		return err
	}

	use := &cobra.Command{
		Use:               "use NAME",
		Short:             "Play a scenario the host knows (built-in, or loaded before)",
		Args:              nArgs(1, "scenario use needs one scenario NAME (see acqsim scenarios list)"),
		ValidArgsFunction: oneScenarioName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			return change(cmd, &admin.ScenarioRef{Name: args[0]})
		},
	}
	load := &cobra.Command{
		Use:   "load FILE",
		Short: "Send a scenario file to the host, which checks it, adds it to its library and plays it",
		Args:  nArgs(1, "scenario load needs one scenario FILE"),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			file := args[0]
			body, err := os.ReadFile(file)
			if err != nil {
				return usagef("scenario load: %v", err)
			}
			err = change(cmd, &admin.ScenarioRef{YAML: body})
			var he *admin.HostError
			if errors.As(err, &he) && len(he.Answer.Problems) > 0 {
				// The host names the file "body"; the user knows it by its name.
				return fileProblems(file, he.Answer.Problems)
			}
			return err
		},
	}
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Back to the default host behaviour (with --terminal: back to what every terminal gets)",
		Args:  nArgs(0, "scenario clear takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			return change(cmd, nil)
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the scenario every terminal gets and the terminals with their own",
		Long: `Print the scenario every terminal gets and the terminals with their own; with
--terminal, the one that terminal gets. -o json prints the host's answer
(GET /scenarios: also the scenarios it knows); with --terminal, an object
with the terminal, its own scenario ("" for none) and every terminal's.`,
		Args: nArgs(0, "scenario show takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			list, raw, err := af.client().Scenarios(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				if tid != "" {
					one, err := json.MarshalIndent(map[string]string{"terminal": tid, "scenario": list.Terminals[tid], "global": list.Global}, "", "  ")
					if err != nil {
						return err
					}
					raw = append(one, '\n')
				}
				_, err := w.Write(raw)
				return err
			}
			if tid != "" {
				if sc, ok := list.Terminals[tid]; ok {
					fmt.Fprintf(w, "terminal %s: %s\n", tid, sc)
				} else {
					fmt.Fprintf(w, "terminal %s: %s (every terminal's)\n", tid, orDefault(list.Global))
				}
				return nil
			}
			fmt.Fprintf(w, "every terminal without its own: %s\n", orDefault(list.Global))
			tids := make([]string, 0, len(list.Terminals))
			for t := range list.Terminals {
				tids = append(tids, t)
			}
			sort.Strings(tids)
			for _, t := range tids {
				fmt.Fprintf(w, "terminal %s: %s\n", t, list.Terminals[t])
			}
			return nil
		},
	}
	cmd.AddCommand(use, load, clear, show)
	return cmd
}

// fileProblems says a scenario's problems as a loader does, at the file's
// name: file:line: reason, one a line.
func fileProblems(file string, ps []admin.Problem) error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = &scenarios.LoadError{Source: file, Line: p.Line, Column: p.Column, Reason: p.Reason}
	}
	return errors.Join(errs...)
}

func orDefault(name string) string {
	if name == "" {
		return "the default host behaviour"
	}
	return name
}

func orGlobal(name string) string {
	if name == "" {
		return "what every terminal gets"
	}
	return name
}

func firstSentence(s string) string {
	s = oneLine(s)
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// --- acqsim clock ---

func newClock() *cobra.Command {
	var af adminFlags
	var output string
	// printClock prints the host's answer: the clock as a line, or as JSON.
	printClock := func(cmd *cobra.Command, raw []byte, c admin.ClockState) error {
		if output == "json" {
			_, err := cmd.OutOrStdout().Write(raw)
			return err
		}
		_, err := fmt.Fprintln(cmd.OutOrStdout(), clockLine(c))
		return err
	}
	show := func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(output, "table", "json"); err != nil {
			return err
		}
		c, raw, err := af.client().Clock(cmd.Context())
		if err != nil {
			return err
		}
		return printClock(cmd, raw, c)
	}
	put := func(cmd *cobra.Command, ch admin.ClockChange) error {
		if err := checkOutput(output, "table", "json"); err != nil {
			return err
		}
		c, raw, err := af.client().SetClock(cmd.Context(), ch)
		if err != nil {
			return err
		}
		return printClock(cmd, raw, c)
	}
	cmd := &cobra.Command{
		Use:   "clock",
		Short: "Print, set, move or freeze a running host's virtual clock (from its admin API)",
		Long: `Print, set, move or freeze a running host's virtual clock: what its cut-over,
settlement dates, scenario time windows and journal go by. Each subcommand
prints the clock afterwards: the time, the offset from real time, and whether
it is frozen (-o json: the host's answer, {"now", "offset", "frozen"}).`,
		Example: `  acqsim clock
  acqsim clock set 2026-06-11T22:59:00+08:00
  acqsim clock advance 90s
  acqsim clock advance -1h
  acqsim clock offset -2h --admin 127.0.0.1:8584
  acqsim clock freeze -o json`,
		Args: cobra.NoArgs,
		RunE: show,
	}
	pf := cmd.PersistentFlags()
	af.register(pf)
	outputFlag(cmd, pf, &output, "table", "json")
	advance := &cobra.Command{
		Use:   "advance DURATION",
		Short: "Move the clock on (or back, with a negative duration such as -1h)",
		Args:  nArgs(1, "clock advance needs one DURATION, e.g. 90s, 2h or -1h"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := time.ParseDuration(args[0])
			if err != nil {
				return usagef("clock advance %q: want a duration such as 90s, 2h or -1h", args[0])
			}
			return put(cmd, admin.ClockChange{Advance: &d})
		},
	}
	offset := &cobra.Command{
		Use:   "offset DURATION",
		Short: "Run the clock this far from real time (0s for real time; -2h for two hours behind)",
		Args:  nArgs(1, "clock offset needs one DURATION, e.g. 0s, 2h or -2h"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := time.ParseDuration(args[0])
			if err != nil {
				return usagef("clock offset %q: want a duration such as 0s, 2h or -2h", args[0])
			}
			return put(cmd, admin.ClockChange{Offset: &d})
		},
	}
	takesNegativeDuration(advance)
	takesNegativeDuration(offset)
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the host's virtual time",
		Args:  nArgs(0, "clock show takes no arguments"),
		RunE:  show,
	}, &cobra.Command{
		Use:   "set TIME",
		Short: "Set the clock to an RFC 3339 time; it runs on from there (unless frozen)",
		Args:  nArgs(1, "clock set needs one RFC 3339 TIME, e.g. 2026-06-11T22:59:00+08:00"),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := time.Parse(time.RFC3339Nano, args[0])
			if err != nil {
				return usagef("clock set %q: want an RFC 3339 time such as 2026-06-11T22:59:00+08:00", args[0])
			}
			return put(cmd, admin.ClockChange{Now: &at})
		},
	}, advance, offset, &cobra.Command{
		Use:   "freeze",
		Short: "Stop the clock where it is",
		Args:  nArgs(0, "clock freeze takes no arguments"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return put(cmd, admin.ClockChange{Freeze: ptr(true)}) },
	}, &cobra.Command{
		Use:   "unfreeze",
		Short: "Let the clock run again from where it stopped",
		Args:  nArgs(0, "clock unfreeze takes no arguments"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return put(cmd, admin.ClockChange{Freeze: ptr(false)}) },
	})
	return cmd
}

// negativeDuration is a word that can only be a negative duration: no flag
// begins with a digit or a point.
var negativeDuration = regexp.MustCompile(`^-[0-9.]`)

// takesNegativeDuration lets cmd take a negative DURATION as written
// (clock offset -2h), where pflag would read "-2h" as the flags -2 and -h.
// Cobra then leaves the command's words alone, and the command sets the
// negative durations aside as arguments and parses the rest as its flags,
// so that --admin, -o and --help work as anywhere else ("--" still ends
// the flags).
func takesNegativeDuration(cmd *cobra.Command) {
	args, runE := cmd.Args, cmd.RunE
	cmd.DisableFlagParsing = true
	cmd.Args = cobra.ArbitraryArgs // checked below, once the flags are out
	cmd.RunE = func(cmd *cobra.Command, words []string) error {
		var flagWords, durations []string
		for i, w := range words {
			if w == "--" {
				durations = append(durations, words[i+1:]...)
				break
			}
			if negativeDuration.MatchString(w) {
				durations = append(durations, w)
			} else {
				flagWords = append(flagWords, w)
			}
		}
		fl := cmd.Flags() // with the inherited flags: cobra merged them for --help
		if err := fl.Parse(flagWords); err != nil {
			return usageError{err}
		}
		if help, _ := fl.GetBool("help"); help {
			return cmd.Help()
		}
		positional := append(fl.Args(), durations...)
		if err := args(cmd, positional); err != nil {
			return err
		}
		return runE(cmd, positional)
	}
}

func ptr[T any](v T) *T { return &v }

// clockLine is the clock as acqsim clock prints it.
func clockLine(c admin.ClockState) string {
	state := "running"
	if c.Frozen {
		state = "frozen"
	}
	return fmt.Sprintf("%s  offset %s  %s", c.Now.Format("2006-01-02T15:04:05.000Z07:00"), c.Offset, state)
}

// --- acqsim verify ---

type verifyFlags struct {
	admin                    adminFlags
	tid, stan, txn, mti, rc  string
	count, min, max          int
	hasCount, hasMin, hasMax bool
	output                   string
}

// shownJournal is how many of a terminal's latest exchanges a failed verify
// prints: the ones a test just caused.
const shownJournal = 50

func newVerify() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --tid TID [--stan S] [--txn KIND] [--count N | --min N --max N]",
		Short: "Check what a terminal sent a running host (from its admin API); exit 1 if not as wanted",
		Long: `Check how many of a terminal's exchanges a filter selects, against --count, or
--min and --max; the exit status is 1 when the count is not what was wanted,
and then the terminal's latest exchanges are printed, the matching ones marked
with *. Each reversal, repeat or void shows how long after its original it came.
"verify sequence" checks the order of a terminal's first exchanges of some kinds.`,
		Example: `  acqsim verify --tid TERM0001 --stan 000006 --txn reversal --min 1
  acqsim verify --tid TERM0001 --txn sale --rc 00 --count 3
  acqsim verify sequence --tid TERM0001 signon sale`,
		Args: nArgs(0, "verify takes no arguments but its flags (or the subcommand sequence)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			f.hasCount, f.hasMin, f.hasMax = fl.Changed("count"), fl.Changed("min"), fl.Changed("max")
			switch {
			case f.tid == "":
				return usagef("verify needs --tid")
			case f.hasCount && (f.hasMin || f.hasMax):
				return usagef("give --count, or --min and --max, not both")
			case f.count < 0 || f.min < 0 || f.max < 0:
				return usagef("--count, --min and --max want a number of exchanges, 0 or more")
			}
			if err := checkOutput(f.output, "table", "json"); err != nil {
				return err
			}
			return verify(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	pf := cmd.PersistentFlags()
	f.admin.register(pf)
	pf.StringVar(&f.tid, "tid", "", "the terminal (F41)")
	outputFlag(cmd, pf, &f.output, "table", "json")
	fl := cmd.Flags()
	fl.StringVar(&f.stan, "stan", "", "only this trace number (F11)")
	fl.StringVar(&f.txn, "txn", "", "only this kind: signon, sale, void, reversal, ...")
	fl.StringVar(&f.mti, "mti", "", "only requests of this MTI, e.g. 0400")
	fl.StringVar(&f.rc, "rc", "", "only this response code (F39)")
	fl.IntVar(&f.count, "count", 0, "want exactly `N`")
	fl.IntVar(&f.min, "min", 0, "want at least `N`")
	fl.IntVar(&f.max, "max", 0, "want at most `N`")
	completeTxn(cmd, "txn")
	cmd.AddCommand(newVerifySequence(&f))
	return cmd
}

func verify(ctx context.Context, w io.Writer, f verifyFlags) error {
	c := f.admin.client()
	var want admin.Want
	for _, b := range []struct {
		set bool
		n   *int
		dst **int
	}{{f.hasCount, &f.count, &want.Count}, {f.hasMin, &f.min, &want.Min}, {f.hasMax, &f.max, &want.Max}} {
		if b.set {
			*b.dst = b.n
		}
	}
	ans, raw, err := c.Verify(ctx, journal.Filter{TID: f.tid, STAN: f.stan, Txn: f.txn, MTI: f.mti, RC: f.rc}, want)
	if err != nil {
		return err
	}
	verdict := fmt.Sprintf("%s of %s matched", exchanges(ans.Count), f.tid)
	if ans.Expected != "" {
		verdict += ", want " + ans.Expected
	}
	if f.output == "json" {
		if _, err := w.Write(raw); err != nil {
			return err
		}
	} else {
		shown := make([]journal.Entry, 0, len(ans.Entries))
		matched, after := map[uint64]bool{}, map[uint64]string{}
		for _, e := range ans.Entries {
			shown = append(shown, e.Entry)
			matched[e.Seq] = true
			if e.AfterOriginalMS != nil {
				after[e.Seq] = fmt.Sprintf("%s after #%d", time.Duration(*e.AfterOriginalMS)*time.Millisecond, e.OriginalSeq)
			}
		}
		if ans.OK {
			fmt.Fprintln(w, "ok:", verdict)
		} else {
			// What did arrive, then: the terminal's latest exchanges.
			fmt.Fprintln(w, "not ok:", verdict)
			p, err := c.JournalPage(ctx, journal.Filter{TID: f.tid, Limit: shownJournal})
			if err != nil {
				return err
			}
			shown = p.Entries
			fmt.Fprintf(w, "%s's latest %s (* matched):\n", f.tid, exchanges(len(shown)))
		}
		if err := verifyTable(w, shown, matched, after); err != nil {
			return err
		}
	}
	if !ans.OK {
		return errors.New("verify: " + verdict)
	}
	return nil
}

func exchanges(n int) string {
	if n == 1 {
		return "1 exchange"
	}
	return strconv.Itoa(n) + " exchanges"
}

// verifyTable prints entries as the journal table does, with each one's seq,
// a * on those matched, and how long after its original each came.
func verifyTable(w io.Writer, es []journal.Entry, matched map[uint64]bool, after map[uint64]string) error {
	if len(es) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, " \tSEQ\tTIME\tTID\tMTI\tTXN\tSTAN\tAMOUNT\tRC\tLATENCY\tRULE\tACTION\tAFTER ORIGINAL")
	for i := range es {
		e := &es[i]
		mark := " "
		if matched[e.Seq] {
			mark = "*"
		}
		cells := append([]any{mark, e.Seq}, journalCells(e)...)
		cells = append(cells, dash(after[e.Seq]))
		fmt.Fprintf(tw, strings.Repeat("%v\t", len(cells)-1)+"%v\n", cells...)
	}
	return tw.Flush()
}

func newVerifySequence(f *verifyFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "sequence --tid TID KIND KIND...",
		Short: "Check that a terminal's first exchanges of these kinds came in this order (did it sign on before its first sale?)",
		Example: `  acqsim verify sequence --tid TERM0001 signon sale
  acqsim verify sequence --tid TERM0001 signon,sale,settlement`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(kindsOf(args)) < 2 {
				return usagef("verify sequence needs two or more kinds of exchange, e.g. signon sale")
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return prefixed(txnKinds, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.tid == "" {
				return usagef("verify sequence needs --tid")
			}
			if err := checkOutput(f.output, "table", "json"); err != nil {
				return err
			}
			return verifySequence(cmd.Context(), cmd.OutOrStdout(), *f, kindsOf(args))
		},
	}
}

// kindsOf reads kinds given as separate arguments or comma-separated.
func kindsOf(args []string) []string {
	var kinds []string
	for _, a := range args {
		for _, k := range strings.Split(a, ",") {
			if k = strings.TrimSpace(k); k != "" {
				kinds = append(kinds, k)
			}
		}
	}
	return kinds
}

func verifySequence(ctx context.Context, w io.Writer, f verifyFlags, kinds []string) error {
	ans, raw, err := f.admin.client().VerifySequence(ctx, f.tid, kinds)
	if err != nil {
		return err
	}
	// Say what went wrong: the first kind that never came, or that came
	// before one listed ahead of it.
	verdict := fmt.Sprintf("%s's first %s came in that order", f.tid, strings.Join(kinds, ", "))
	switch at, before := ans.Break(); {
	case at >= 0 && before < 0:
		verdict = fmt.Sprintf("%s sent no %s", f.tid, ans.Steps[at].Txn)
	case at >= 0:
		s, b := ans.Steps[at], ans.Steps[before]
		verdict = fmt.Sprintf("%s's first %s (#%d) came before its first %s (#%d)", f.tid, s.Txn, s.Seq, b.Txn, b.Seq)
	case !ans.OK:
		verdict = fmt.Sprintf("%s's first %s did not come in that order", f.tid, strings.Join(kinds, ", "))
	}
	if f.output == "json" {
		if _, err := w.Write(raw); err != nil {
			return err
		}
	} else {
		if ans.OK {
			fmt.Fprintln(w, "ok:", verdict)
		} else {
			fmt.Fprintln(w, "not ok:", verdict)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TXN\tSEQ\tTIME")
		for _, s := range ans.Steps {
			seq, at := "-", "never"
			if s.Seq != 0 {
				seq = strconv.FormatUint(s.Seq, 10)
			}
			if s.Time != nil {
				at = s.Time.Format("2006-01-02 15:04:05.000")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Txn, seq, at)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !ans.OK {
		return errors.New("verify sequence: " + verdict)
	}
	return nil
}
