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

// scenarioInfo is a scenario as GET /scenarios lists it.
type scenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type scenarioList struct {
	Scenarios []scenarioInfo `json:"scenarios"`
	// Global is the scenario every terminal without its own gets ("" for the
	// default host behaviour).
	Global string `json:"global"`
	// Terminals are the terminals bound to a scenario of their own.
	Terminals map[string]string `json:"terminals"`
}

func (a *API) listScenarios(w http.ResponseWriter, r *http.Request) {
	var out scenarioList
	for _, c := range a.Library.All() {
		out.Scenarios = append(out.Scenarios, scenarioInfo{Name: c.Name, Description: c.Description})
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

// putScenario answers PUT /scenario: the scenario every terminal without its
// own gets.
func (a *API) putScenario(w http.ResponseWriter, r *http.Request) {
	c, ok := a.scenarioFromBody(w, r)
	if !ok {
		return
	}
	a.Engine.SetGlobal(c)
	writeJSON(w, http.StatusOK, map[string]string{"global": c.Name})
}

// deleteScenario answers DELETE /scenario: back to the default host behaviour.
func (a *API) deleteScenario(w http.ResponseWriter, r *http.Request) {
	a.Engine.SetGlobal(nil)
	writeJSON(w, http.StatusOK, map[string]string{"global": ""})
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
	writeJSON(w, http.StatusOK, map[string]string{"terminal": tid, "scenario": c.Name})
}

func (a *API) unbindTerminal(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	a.Engine.Unbind(tid)
	writeJSON(w, http.StatusOK, map[string]string{"terminal": tid, "scenario": ""})
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
