package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestREADMEFlags: every flag of every command is in the README, as a
// new user reads them there first. A flag added without its line fails here.
func TestREADMEFlags(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !strings.Contains(readme, "`--"+f.Name) && !strings.Contains(readme, "--"+f.Name+" ") &&
				!strings.Contains(readme, "--"+f.Name+"`") && !strings.Contains(readme, "--"+f.Name+"=") {
				t.Errorf("%s --%s: not in README.md", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(io.Discard, io.Discard))
}
