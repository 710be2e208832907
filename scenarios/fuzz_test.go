package scenarios_test

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// FuzzLoad: whatever a scenario file holds, Load does not panic; it refuses
// it with every line of the error naming the file, or returns a named
// scenario that plans requests without panicking, since every problem is
// meant to be found at load.
func FuzzLoad(f *testing.F) {
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no embedded scenarios: %v", err)
	}
	for _, name := range files {
		raw, err := fixtures.Scenarios.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, bad := range []string{
		"",
		"~",
		"name: x\nrules:\n  - match: amout > 1\n",
		"name: x\nrules:\n  - match: between(\"25:00\", \"01:00\")\n",
		"name: x\nrules:\n  - delay: 5s..1s\n    action: {garbage: {byts: 3}}\n",
		"name: x\nrules:\n  - steps:\n      - action: reset\n      - respond: {rc: \"00\"}\n",
		"name: x\nrules:\n  - delay: {distribution: normal, mean: 1s, stddev: 1s, bogus: 1, other: 2}\n",
		"name: x\nlimits:\n  - {period: week, max_amount: 1, max_count: 1}\n",
		"name: x\nmerchants: {a: {status: sleepy}}\n",
		"name: x\nrules: [unclosed\n",
		"name: &a x\nrules:\n  - &r {match: 'amount + 1'}\n  - *r\n",
		"name: x\nrules:\n  - {<<: {match: 'txn == \"sale\"'}, respond: {rc: \"05\"}}\n",
		"\xff\xfe\x00",
		"name: x\n\trules: []\n",
	} {
		f.Add([]byte(bad))
	}
	const source = "fuzz/scenario.yaml"
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := scenarios.Load(source, raw)
		if err != nil {
			if c != nil {
				t.Errorf("Load returned a scenario with its error %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, source+":") {
					t.Errorf("error line %q does not start with %q", line, source+":")
				}
			}
			return
		}
		if c.Name == "" {
			t.Errorf("loaded a scenario without a name")
		}
		e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
		e.SetGlobal(c)
		for _, typ := range []txn.Type{txn.Sale, txn.Echo, txn.Settlement, txn.Reversal} {
			e.Plan(request(typ, 100), noon)
			e.Plan(request(typ, 100), noon.Add(12*time.Hour))
		}
	})
}
