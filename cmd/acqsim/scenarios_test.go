package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// acqsim runs the command line in-process and returns its exit status,
// standard output and standard error.
func acqsim(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeFile writes a file in a fresh directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// builtIns lists the scenario library's files, by scenario name.
func builtIns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../fixtures/scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files in fixtures/scenarios (%v)", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	// By scenario name, as the library lists them: the files sort otherwise
	// when one name is a prefix of another ("x-once.yaml" < "x.yaml").
	slices.Sort(names)
	return names
}

const goodScenario = `name: decline-refunds
description: Refunds are declined with 12.
rules:
  - match: txn == "refund"
    respond: { rc: "12" }
limits:
  - { period: txn, max_amount: 100000 }
`

func TestValidate(t *testing.T) {
	good := writeFile(t, "good.yaml", goodScenario)
	unknownKey := writeFile(t, "unknown-key.yaml", "name: x\nrules:\n  - match: txn == \"sale\"\n    respnd: { rc: \"05\" }\n")
	badAction := writeFile(t, "bad-action.yaml", "name: x\nrules:\n  - name: boom\n    action: explode\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")

	tests := []struct {
		name    string
		files   []string
		code    int
		stdout  []string // each must appear
		stderr  []string
		refused string // the closing line's count, "" when none are refused
	}{
		{"a good file", []string{good}, 0,
			[]string{good + ": ok (decline-refunds, 1 rules, 1 limits)"}, nil, ""},
		{"an unknown key", []string{unknownKey}, 1,
			nil, []string{unknownKey + ":4: ", "respnd"}, "1 of 1"},
		{"an unknown action", []string{badAction}, 1,
			nil, []string{badAction + ":4: ", `unknown action "explode"`}, "1 of 1"},
		{"good and bad mixed", []string{good, unknownKey, good, badAction, missing}, 1,
			[]string{good + ": ok"},
			[]string{unknownKey + ":4: ", badAction + ":4: ", missing}, "3 of 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := acqsim(append([]string{"validate"}, tt.files...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			// One line per file, on the one stream or the other.
			lines := strings.Count(stdout, "\n") + strings.Count(stderr, "\n")
			if tt.refused != "" {
				lines-- // the closing line
				if !strings.Contains(stderr, "acqsim: "+tt.refused+" scenario files refused") {
					t.Errorf("stderr lacks the count %q of files refused:\n%s", tt.refused, stderr)
				}
			}
			if lines != len(tt.files) {
				t.Errorf("%d lines for %d files:\nstdout: %s\nstderr: %s", lines, len(tt.files), stdout, stderr)
			}
		})
	}
}

func TestValidateBuiltIns(t *testing.T) {
	var files []string
	for _, name := range builtIns(t) {
		files = append(files, "../../fixtures/scenarios/"+name+".yaml")
	}
	code, stdout, stderr := acqsim(append([]string{"validate"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, stderr)
	}
	for _, f := range files {
		if !strings.Contains(stdout, f+": ok (") {
			t.Errorf("stdout lacks %s: ok:\n%s", f, stdout)
		}
	}
}

func TestScenariosList(t *testing.T) {
	code, stdout, stderr := acqsim("scenarios", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		name, desc, _ := strings.Cut(line, " ")
		names = append(names, name)
		if strings.TrimSpace(desc) == "" {
			t.Errorf("%s is listed without its description", name)
		}
	}
	if want := builtIns(t); !slices.Equal(names, want) {
		t.Errorf("listed %v, want the files in fixtures/scenarios: %v", names, want)
	}
	// Folded descriptions come out on one line.
	if !regexp.MustCompile(`(?m)^insufficient-funds +F2 transaction failure\. Every sale is declined with 51 \(insufficient funds\); everything else is answered normally\.$`).MatchString(stdout) {
		t.Errorf("insufficient-funds is not listed with its description on one line:\n%s", stdout)
	}
}

func TestScenariosShow(t *testing.T) {
	want, err := os.ReadFile("../../fixtures/scenarios/insufficient-funds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := acqsim("scenarios", "show", "insufficient-funds")
	if code != 0 || stdout != string(want) {
		t.Errorf("exit %d, stdout:\n%s\nwant exit 0 and the file:\n%s\nstderr: %s", code, stdout, want, stderr)
	}

	for _, args := range [][]string{
		{"scenarios", "show", "nope"},
		{"scenarios", "show"},
		{"scenarios", "show", "timeout", "insufficient-funds"},
		{"scenarios", "list", "extra"},
	} {
		code, stdout, stderr := acqsim(args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if stdout != "" {
			t.Errorf("%v: printed %q on stdout", args, stdout)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "acqsim: ") {
			t.Errorf("%v: want a one-line reason, got %q", args, stderr)
		}
	}
	if _, _, stderr := acqsim("scenarios", "show", "nope"); !strings.Contains(stderr, `"nope"`) {
		t.Errorf("the reason %q does not name the scenario", stderr)
	}
}

// serveWithLine is serveInBackground that also returns the listening line.
func serveWithLine(t *testing.T, args ...string) (line, iso, admin string, stop func() int) {
	t.Helper()
	return serveInProcess(t, args...)
}

func TestServeScenario(t *testing.T) {
	custom := writeFile(t, "decline-refunds.yaml", goodScenario)
	tests := []struct {
		scenario string // --scenario
		name     string // what the host binds
		sale     string // RC a sale gets
	}{
		{"insufficient-funds", "insufficient-funds", "51"},
		{custom, "decline-refunds", "00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, iso, admin, stop := serveWithLine(t, "--scenario", tt.scenario)
			if !strings.Contains(line, " scenario="+tt.scenario) {
				t.Errorf("listening line %q lacks scenario=%s", line, tt.scenario)
			}

			resp, err := http.Get("http://" + admin + "/scenarios")
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Global string `json:"global"`
			}
			err = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if err != nil || list.Global != tt.name {
				t.Errorf("GET /scenarios: global %q (%v), want %s", list.Global, err, tt.name)
			}

			code, stdout, stderr := acqsim("send", "sale", "--host", iso, "--amount", "12.34", "--state-dir", t.TempDir(), "--timeout", "5s")
			if code != 0 {
				t.Fatalf("send sale: exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "RC "+tt.sale) {
				t.Errorf("the sale did not get RC %s:\n%s", tt.sale, stdout)
			}
			if code := stop(); code != 0 {
				t.Errorf("serve exited %d after SIGINT, want 0", code)
			}
		})
	}
}

func TestServeScenarioRefused(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "name: x\nrules:\n  - action: explode\n  - respnd: {}\n")
	tests := []struct {
		scenario string
		want     []string // in the reason
	}{
		{"/nonexistent.yaml", []string{`"/nonexistent.yaml"`}},
		{"no-such-built-in", []string{`"no-such-built-in"`}},
		{bad, []string{bad + ":3: ", "explode"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			code, stdout, stderr := acqsim("serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--scenario", tt.scenario)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if strings.Contains(stdout, "listening") {
				t.Errorf("the host started: %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "acqsim: ") {
				t.Errorf("want a one-line reason, got %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("the reason %q lacks %q", stderr, w)
				}
			}
		})
	}
}
