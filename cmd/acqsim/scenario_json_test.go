package main

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// Every scenario command that prints takes -o json, as the README says of
// the commands that talk to a running host: the host's answer.
func TestScenarioJSON(t *testing.T) {
	_, admin, _ := serveInBackground(t)
	cli := against(admin)
	file := writeFile(t, "decline-refunds.yaml", declineRefunds)
	for _, tc := range []struct {
		args []string
		want map[string]string
	}{
		{[]string{"use", "insufficient-funds"}, map[string]string{"global": "insufficient-funds"}},
		{[]string{"use", "magic-amounts", "--terminal", "TERM0001"}, map[string]string{"terminal": "TERM0001", "scenario": "magic-amounts"}},
		{[]string{"load", file, "--terminal", "TERM0009"}, map[string]string{"terminal": "TERM0009", "scenario": "decline-refunds"}},
		{[]string{"show", "--terminal", "TERM0001"}, map[string]string{"terminal": "TERM0001", "scenario": "magic-amounts", "global": "insufficient-funds"}},
		{[]string{"show", "--terminal", "TERM0002"}, map[string]string{"terminal": "TERM0002", "scenario": "", "global": "insufficient-funds"}},
		{[]string{"clear", "--terminal", "TERM0001"}, map[string]string{"terminal": "TERM0001", "scenario": ""}},
		{[]string{"load", file}, map[string]string{"global": "decline-refunds"}},
		{[]string{"clear"}, map[string]string{"global": ""}},
	} {
		args := append(append([]string{"scenario"}, tc.args...), "-o", "json")
		code, stdout, stderr := cli(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%v: %q (%v), want %v", args, stdout, err, tc.want)
		}
	}

	// show without --terminal: the host's whole answer, the library too.
	code, stdout, stderr := cli("scenario", "show", "-o", "json")
	var list struct {
		Scenarios []struct{ Name string } `json:"scenarios"`
		Global    *string                 `json:"global"`
		Terminals map[string]string       `json:"terminals"`
	}
	if err := json.Unmarshal([]byte(stdout), &list); code != 0 || err != nil || list.Global == nil ||
		list.Terminals["TERM0009"] != "decline-refunds" || len(list.Scenarios) == 0 {
		t.Errorf("scenario show -o json: exit %d, %q (%v, %s); want the global, the terminals and the library", code, stdout, err, stderr)
	}

	// A bad -o is refused before the host is asked.
	for _, args := range [][]string{
		{"scenario", "use", "timeout", "-o", "xml"},
		{"scenario", "load", file, "-o", "xml"},
		{"scenario", "clear", "--terminal", "TERM0009", "-o", "xml"},
		{"scenario", "show", "-o", "xml"},
	} {
		code, stdout, stderr := cli(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "want table or json")
	}
	if code, stdout, _ := cli("scenario", "show"); code != 0 || !strings.Contains(stdout, "every terminal without its own: the default host behaviour\nterminal TERM0009: decline-refunds") {
		t.Errorf("after the refused commands: exit %d,\n%s\nwant the bindings unchanged", code, stdout)
	}
}
