package admin

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/scenarios"
)

// ScenarioInfo is a scenario as GET /scenarios lists it.
type ScenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ScenarioList is GET /scenarios's answer: the scenarios the host knows and
// what each terminal gets.
type ScenarioList struct {
	Scenarios []ScenarioInfo `json:"scenarios"`
	// Global is the scenario every terminal without its own gets ("" for the
	// default host behaviour).
	Global string `json:"global"`
	// Terminals are the terminals bound to a scenario of their own.
	Terminals map[string]string `json:"terminals"`
}

func (a *API) listScenarios(w http.ResponseWriter, r *http.Request) {
	var out ScenarioList
	for _, c := range a.Library.All() {
		out.Scenarios = append(out.Scenarios, ScenarioInfo{Name: c.Name, Description: c.Description})
	}
	out.Global, out.Terminals = a.Engine.Bindings()
	writeJSON(w, http.StatusOK, out)
}

// getScenario answers GET /scenarios/{name} with the scenario file.
func (a *API) getScenario(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Library.Get(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no scenario named "+r.PathValue("name"))
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(c.Source)
}

// scenarioFromBody reads {"name": NAME} (a scenario already known) or a YAML
// scenario, which is validated and added to the library.
func (a *API) scenarioFromBody(w http.ResponseWriter, r *http.Request) (*scenarios.Compiled, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return nil, false
	}
	if ref, isRef := nameRef(body); isRef {
		if ref == "" {
			writeError(w, http.StatusBadRequest, `name: want a string naming a known scenario, as {"name": "timeout"} (GET /scenarios lists them)`)
			return nil, false
		}
		c, ok := a.Library.Get(ref)
		if !ok {
			writeError(w, http.StatusNotFound, "no scenario named "+ref+" (GET /scenarios lists them)")
			return nil, false
		}
		return c, true
	}
	c, err := a.Engine.Budget.Load("body", body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorAnswer{Error: err.Error(), Problems: problemsOf(err)})
		return nil, false
	}
	if err := a.Library.Add(c); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, scenarios.ErrNameTaken) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return nil, false
	}
	return c, true
}

// nameRef reports whether a body names a scenario rather than being one: a
// document (JSON, or YAML, of which JSON is a part) that is a mapping with
// the one key name. A scenario needs rules to do anything, so a file of a
// name alone is never one worth loading. ref is the name when it is a
// non-empty string, and "" when it is anything else (a number, a bool, null,
// a list): a call that is refused, never a new scenario called "5".
func nameRef(body []byte) (ref string, isRef bool) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil || len(doc.Content) != 1 {
		return "", false
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return "", false // more than one document: Load says what is wrong
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 || m.Content[0].Value != "name" || m.Content[0].ShortTag() != "!!str" {
		return "", false
	}
	if v := m.Content[1]; v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		return v.Value, true
	}
	return "", true
}

// GlobalScenario is the answer to PUT and DELETE /scenario: the scenario
// every terminal without its own now gets ("" for the default host
// behaviour).
type GlobalScenario struct {
	Global string `json:"global"`
}

// TerminalScenario is the answer to PUT and DELETE
// /terminals/{tid}/scenario: the terminal and the scenario of its own it now
// has ("" for none: it gets the global one).
type TerminalScenario struct {
	// Scenario comes first, as the keys of the map it was once are sorted.
	Scenario string `json:"scenario"`
	Terminal string `json:"terminal"`
}

// putScenario answers PUT /scenario: the scenario every terminal without its
// own gets.
func (a *API) putScenario(w http.ResponseWriter, r *http.Request) {
	c, ok := a.scenarioFromBody(w, r)
	if !ok {
		return
	}
	a.Engine.SetGlobal(c)
	writeJSON(w, http.StatusOK, GlobalScenario{Global: c.Name})
}

// deleteScenario answers DELETE /scenario: back to the default host behaviour.
func (a *API) deleteScenario(w http.ResponseWriter, r *http.Request) {
	a.Engine.SetGlobal(nil)
	writeJSON(w, http.StatusOK, GlobalScenario{})
}

func (a *API) bindTerminal(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	if !validTID(tid) {
		writeError(w, http.StatusBadRequest, "terminal ID: want 1 to 8 printable characters, not all spaces (F41)")
		return
	}
	c, ok := a.scenarioFromBody(w, r)
	if !ok {
		return
	}
	a.Engine.Bind(tid, c)
	writeJSON(w, http.StatusOK, TerminalScenario{Terminal: tid, Scenario: c.Name})
}

func (a *API) unbindTerminal(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	a.Engine.Unbind(tid)
	writeJSON(w, http.StatusOK, TerminalScenario{Terminal: tid})
}

// validTID reports a terminal ID a terminal could send: F41 is 8 printable
// characters (ans 8), which a terminal ID shorter than that fills with spaces.
func validTID(tid string) bool {
	if tid == "" || len(tid) > 8 || strings.TrimSpace(tid) == "" {
		return false
	}
	for i := 0; i < len(tid); i++ {
		if tid[i] < ' ' || tid[i] > '~' {
			return false
		}
	}
	return true
}
