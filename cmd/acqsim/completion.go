package main

// Shell completion: what the shell offers for each command's arguments and
// flags, wired here for the commands defined in other files, and the
// completion command itself refusing a shell it has no script for.

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/scenarios"
)

// completeScenarioNames offers the built-in library's names, each with the
// first sentence of its description.
func completeScenarioNames(prefix string) []string {
	lib, err := scenarios.BuiltIn()
	if err != nil {
		return nil
	}
	var names []string
	for _, c := range lib.All() {
		if strings.HasPrefix(c.Name, prefix) {
			names = append(names, c.Name+"\t"+firstSentence(c.Description))
		}
	}
	return names
}

// oneScenarioName completes a command's one NAME argument.
func oneScenarioName(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeScenarioNames(prefix), cobra.ShellCompDirectiveNoFileComp
}

// completeFlag offers choices for a flag of cmd, when cmd has that flag and
// no completion for it yet.
func completeFlag(cmd *cobra.Command, name string, choices []string) {
	if cmd.Flags().Lookup(name) == nil {
		return
	}
	_ = cmd.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return prefixed(choices, prefix), cobra.ShellCompDirectiveNoFileComp
	})
}

// addCompletions wires what the shell completes into the commands under
// root: flows for send, scenario names for serve --scenario, dialects and
// length headers wherever they are asked for. It then makes the completion
// command refuse a shell it has no script for.
func addCompletions(root *cobra.Command) {
	lengthHeaders := make([]string, len(dialect.LengthHeaders))
	for i, h := range dialect.LengthHeaders {
		lengthHeaders[i] = string(h)
	}
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "serve", "send", "bench":
			completeFlag(cmd, "dialect", fixtures.DialectNames())
			completeFlag(cmd, "length-header", lengthHeaders)
		}
		switch cmd.Name() {
		case "send":
			if cmd.ValidArgsFunction == nil {
				cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
					if len(args) > 0 {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					return prefixed(flows, prefix), cobra.ShellCompDirectiveNoFileComp
				}
			}
		case "serve":
			if cmd.Flags().Lookup("scenario") != nil {
				// A name, or a file: when no name fits what was typed, the
				// shell completes file names.
				_ = cmd.RegisterFlagCompletionFunc("scenario", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
					return completeScenarioNames(prefix), cobra.ShellCompDirectiveDefault
				})
			}
		}
	}

	root.InitDefaultCompletionCmd()
	for _, comp := range root.Commands() {
		if comp.Name() != "completion" {
			continue
		}
		var shells []string
		for _, sh := range comp.Commands() {
			shells = append(shells, sh.Name())
		}
		// Without a Run, cobra prints help and exits 0 for a shell it has no
		// subcommand for (tcsh): a script that then sources nothing.
		comp.Args = cobra.ArbitraryArgs
		comp.RunE = func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("completion needs a SHELL: %s", oneOf(shells))
			}
			return usagef("completion: no script for the shell %q: want %s", args[0], oneOf(shells))
		}
	}
}
