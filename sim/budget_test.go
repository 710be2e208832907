package sim_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/scenarios"
)

const plainScenario = `name: plain
rules:
  - match: 'amount > 100 && tid == "TERM0001"'
    respond: {rc: "05"}
`

// The host's expression budget is the one its scenarios are held to,
// whichever way they come: --scenario at start, PUT /scenario over the API.
func TestHostExpressionBudget(t *testing.T) {
	h := acqsimtest.New(t)
	costly := `name: costly
rules:
  - match: 'let a = 1..1000; any(a, {let x = #; any(a, {# * x == amount})})'
    respond: {rc: "05"}
`
	if code, body := putScenario(t, h, costly); code != http.StatusBadRequest || !strings.Contains(body, "body:3:") {
		t.Errorf("PUT /scenario of a costly expression: %d %s; want 400 body:3: why", code, body)
	}
	if code, body := putScenario(t, h, plainScenario); code != http.StatusOK {
		t.Errorf("PUT /scenario of a plain expression: %d %s", code, body)
	}

	tight := acqsimtest.New(t, acqsimtest.ExprBudget(scenarios.Budget{Nodes: 3}))
	if code, body := putScenario(t, tight, strings.Replace(plainScenario, "plain", "plain2", 1)); code != http.StatusBadRequest || !strings.Contains(body, "nodes") {
		t.Errorf("PUT /scenario over a budget of 3 nodes: %d %s; want 400 about nodes", code, body)
	}
	file := filepath.Join(t.TempDir(), "plain.yaml")
	if err := os.WriteFile(file, []byte(plainScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := acqsimtest.Start(acqsimtest.Admin("off"), acqsimtest.Scenario(file), acqsimtest.ExprBudget(scenarios.Budget{Nodes: 3}))
	if err == nil || !strings.Contains(err.Error(), file+":3:") {
		t.Errorf("--scenario over a budget of 3 nodes: %v; want %s:3: why", err, file)
	}
}

func putScenario(t *testing.T, h *acqsimtest.Host, yaml string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, h.AdminURL()+"/scenario", strings.NewReader(yaml))
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
