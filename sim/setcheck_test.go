package sim_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/sim"
)

// A scenario that sets a response field to what the dialect cannot carry
// there is refused when the host starts, with its file, line and reason, not
// when the first response it shapes cannot be built.
func TestScenarioSetCheckedAtLoad(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad-set.yaml")
	yaml := "name: bad-set\nrules:\n  - match: txn == \"sale\"\n    respond:\n      rc: \"00\"\n      set:\n        38: \"TOOLONGAUTH\"\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dn := range fixtures.DialectNames() {
		_, err := acqsimtest.Start(acqsimtest.Admin("off"), acqsimtest.Dialect(dn), acqsimtest.Scenario(file))
		if err == nil || !strings.Contains(err.Error(), file+":7:") || !strings.Contains(err.Error(), "field 38") {
			t.Errorf("%s: start with a 11-character F38: %v; want it refused at %s:7 naming field 38", dn, err, file)
		}
	}
	// The same value where it fits is fine.
	ok := strings.Replace(yaml, "TOOLONGAUTH", "A1B2C3", 1)
	if err := os.WriteFile(file, []byte(ok), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := acqsimtest.Start(acqsimtest.Admin("off"), acqsimtest.Scenario(file))
	if err != nil {
		t.Fatalf("start with a 6-character F38: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// A start clock the virtual clock cannot hold is a configuration error, not
// real time in disguise.
func TestStartClockOutOfRange(t *testing.T) {
	_, err := acqsimtest.Start(acqsimtest.Admin("off"), acqsimtest.Clock(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)))
	var ce sim.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("start with the clock at 1900: %v, want a configuration error", err)
	}
}
