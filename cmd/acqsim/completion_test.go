package main

import (
	"slices"
	"strings"
	"testing"
)

// complete asks acqsim what the shell should offer, as the completion
// scripts do, and returns the names and the directive line (":4").
func complete(t *testing.T, args ...string) (names []string, directive string) {
	t.Helper()
	code, stdout, stderr := acqsim(append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.HasPrefix(l, ":") {
			directive = l
		} else if l != "" {
			name, _, _ := strings.Cut(l, "\t")
			names = append(names, name)
		}
	}
	return names, directive
}

func TestCompletionOffers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // all among the names offered
		not  []string // none of these
	}{
		{[]string{"scenarios", "show", "insuff"}, []string{"insufficient-funds"}, []string{"timeout"}},
		{[]string{"scenarios", "show", "timeout", ""}, nil, []string{"timeout", "insufficient-funds"}},
		{[]string{"scenario", "use", "settlement-"}, []string{"settlement-out-of-balance"}, []string{"timeout"}},
		{[]string{"serve", "--scenario", "insuff"}, []string{"insufficient-funds"}, nil},
		{[]string{"send", ""}, []string{"signon", "sale", "preauth-void", "settle"}, nil},
		{[]string{"send", "pre"}, []string{"preauth", "preauth-void"}, []string{"sale"}},
		{[]string{"send", "sale", ""}, nil, []string{"sale", "void"}},
		{[]string{"send", "sale", "--dialect", ""}, []string{"iso87ascii", "cup", "iso87bcd"}, nil},
		{[]string{"serve", "--dialect", "c"}, []string{"cup"}, []string{"iso87ascii"}},
		{[]string{"bench", "--dialect", ""}, []string{"iso87ascii", "cup", "iso87bcd"}, nil},
		{[]string{"serve", "--length-header", "a"}, []string{"ascii4"}, []string{"binary2"}},
		{[]string{"report", "--mode", ""}, []string{"T0", "T1"}, nil},
		{[]string{"report", "batches", "--state", ""}, []string{"open", "reconciling", "uploaded", "closed"}, nil},
		{[]string{"clock", "offset", "--adm"}, []string{"--admin", "--admin-token"}, nil},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}, nil},
	} {
		got, _ := complete(t, tc.args...)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%v: offers %v, want %s among them", tc.args, got, w)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(got, n) {
				t.Errorf("%v: offers %v, want no %s", tc.args, got, n)
			}
		}
	}
	// serve --scenario takes a file too: with no name to offer, the shell
	// completes file names (directive 0, its default).
	if got, directive := complete(t, "serve", "--scenario", "./"); len(got) != 0 || directive != ":0" {
		t.Errorf("serve --scenario ./: %v %s, want nothing and :0 (files)", got, directive)
	}
}

// A shell acqsim has no script for is a usage error, not help and exit 0:
// `source <(acqsim completion tcsh)` would source nothing.
func TestCompletionUnknownShell(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"completion", "tcsh"}, `"tcsh": want bash, fish, powershell or zsh`},
		{[]string{"completion"}, "needs a SHELL"},
	} {
		code, stdout, stderr := acqsim(tc.args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", tc.args, code, stdout)
		}
		wantOneLine(t, tc.args, stderr, tc.want)
	}
	if code, stdout, _ := acqsim("completion", "--help"); code != 0 || !strings.Contains(stdout, "bash") {
		t.Errorf("completion --help: exit %d, %q; want the help", code, stdout)
	}
}
