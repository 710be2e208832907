package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/acqsim/acqsim/scenarios"
)

func newValidate() *cobra.Command {
	var budget scenarios.Budget
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files as the host would load them",
		Long:  "Check scenario files as the host would load them; each problem is printed as file:line: reason. Exit status 1 when any file is refused.",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			bad := 0
			for _, f := range files {
				c, err := budget.LoadFile(f)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s, %d rules, %d limits)\n", f, c.Name, len(c.Rules), len(c.Limits))
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d scenario files refused", bad, len(files))
			}
			return nil
		},
	}
	addBudgetFlags(cmd.Flags(), &budget, false)
	return cmd
}

// addBudgetFlags adds the flags of an expression budget: what load refuses
// and, when the host runs the expressions (serve), what cuts an evaluation.
func addBudgetFlags(fl *pflag.FlagSet, b *scenarios.Budget, running bool) {
	d := scenarios.DefaultBudget
	fl.IntVar(&b.Nodes, "expr-max-nodes", d.Nodes, "refuse a scenario with a match expression of more syntax-tree `nodes`")
	fl.IntVar(&b.Literal, "expr-max-literal", d.Literal, "refuse a scenario whose expression builds a literal collection (array, map, range, repeat) of more `elements`, or a longer string literal")
	fl.IntVar(&b.Cost, "expr-max-cost", d.Cost, "refuse a scenario whose expression costs more by its shape, in `steps` (nested iterations multiply)")
	if !running {
		return
	}
	fl.IntVar(&b.Steps, "expr-steps", d.Steps, "cut an evaluation after this many predicate `steps`: the rule does not match")
	fl.IntVar(&b.Memory, "expr-memory", d.Memory, "cut an evaluation that builds more than this many `elements` (expr's memory budget)")
	fl.DurationVar(&b.Time, "expr-timeout", d.Time, "cut an evaluation that runs longer than this")
}

func newScenarios() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "List and print the built-in scenario library",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("scenarios needs a subcommand: list or show NAME")
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := scenarios.BuiltIn()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, c := range lib.All() {
				fmt.Fprintf(tw, "%s\t%s\n", c.Name, oneLine(c.Description))
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:               "show NAME",
		Short:             "Print a built-in scenario",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: oneScenarioName,
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := scenarios.BuiltIn()
			if err != nil {
				return err
			}
			c, ok := lib.Get(args[0])
			if !ok {
				return usagef("no built-in scenario named %q (see acqsim scenarios list)", args[0])
			}
			_, err = cmd.OutOrStdout().Write(c.Source)
			return err
		},
	})
	return cmd
}

func oneLine(s string) string {
	out := []rune{}
	space := false
	for _, r := range s {
		if r == '\n' || r == ' ' || r == '\t' {
			space = true
			continue
		}
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, r)
	}
	return string(out)
}
