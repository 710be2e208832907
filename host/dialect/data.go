package dialect

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/acqsim/acqsim/txn"
)

// The "acqsim" section of a dialect's data file says what the field specs
// cannot: which transaction a message is (routes), where a field of meaning
// lives inside a field (parts), what a response carries back and adds, and
// how a client writes each request. The host reads requests with it and its
// clients (the terminal emulator, the load generator, the tests) build them
// with it, so the two cannot disagree. The moov-io library ignores the section.
type hostData struct {
	// Like names a registered dialect whose section this one starts from;
	// its own keys replace the other's whole.
	Like string `json:"like"`
	// Preamble is the number of bytes before the MTI of every message (the
	// cup TPDU and header).
	Preamble int `json:"preamble"`
	// OptionalTPDU: a message may start with a 5-byte TPDU (its first byte
	// 60h, which no BCD MTI starts with), answered with the addresses swapped.
	OptionalTPDU   bool   `json:"optionalTPDU"`
	Currency       string `json:"currency"`
	VoidsAsCredits bool   `json:"voidsAsCredits"`
	BalancedCloses bool   `json:"balancedCloses"`
	// ChipAnswer are the tags the host's answer to a chip card's
	// cryptogram carries in F55 beyond 91 (the ARPC) and the issuer's
	// scripts: 8A (the response code) and 89 (the authorisation code).
	ChipAnswer []string `json:"chipAnswer"`

	// Parts names the pieces of a field: "60": [{"name": "kind", "length": 2}, ...]
	// makes "60.kind" the first two characters of F60.
	Parts map[string][]part `json:"parts"`
	// Read says where the values of meaning are, by path ("70", "60.net").
	Read map[string]string `json:"read"`
	// Routes: the first whose MTI and paths match says the transaction.
	Routes []routeData `json:"routes"`

	Totals      *totalsData `json:"totals"`
	Upload      *uploadData `json:"upload"`
	UploadCount *countData  `json:"uploadCount"`
	// Keys is the field a sign-on's response carries the working keys in.
	Keys int `json:"keys"`
	// MAC is the field a signed request carries its MAC in.
	MAC int `json:"mac"`

	// CarriesBack are the request fields every response echoes, where present;
	// CarriesBackFor adds some for a transaction type.
	CarriesBack    []int            `json:"carriesBack"`
	CarriesBackFor map[string][]int `json:"carriesBackFor"`
	Responses      []responseData   `json:"responses"`

	// Every lists the fields every request carries, Card those of a request
	// with a card, as templates of request values.
	Every    map[string]string `json:"every"`
	Card     map[string]string `json:"card"`
	Requests []requestData     `json:"requests"`
}

// part is a fixed-width piece of a field.
type part struct {
	Name   string `json:"name"`
	Length int    `json:"length"`
}

type routeData struct {
	MTI string `json:"mti"`
	// Match holds paths and what their values begin with.
	Match map[string]string `json:"match"`
	// Tags are tags the chip data (F55) must carry ("9F5B": a script
	// result advice).
	Tags []string `json:"tags"`
	Type string   `json:"type"`
}

// totalsData: settlement totals as one field of fixed-width numbers, named
// after txn.Totals (debit_count, foreign_credit_amount) and the reconciliation
// codes a response adds (domestic_code, foreign_code).
type totalsData struct {
	Field int `json:"field"`
	// Required: a request of these types without the field is a format error.
	Required bool     `json:"required"`
	Types    []string `json:"types"`
	Parts    []part   `json:"parts"`
}

// uploadData: a batch upload's records in one field. With Count, the field
// starts with the number of records (that many digits), then the records;
// without, it holds one record and the rest comes from the message's own
// fields (card, processing code, amount, RRN, authorisation code).
type uploadData struct {
	Field int    `json:"field"`
	Count int    `json:"count"`
	Parts []part `json:"parts"`
}

// countData: the end of a batch upload says how many records went, in a
// number field of at most Length digits.
type countData struct {
	Field  int `json:"field"`
	Length int `json:"length"`
}

type responseData struct {
	Type      string            `json:"type"`
	Financial bool              `json:"financial"`
	Approved  bool              `json:"approved"`
	Fields    map[string]string `json:"fields"`
}

type requestData struct {
	Type string `json:"type"`
	MTI  string `json:"mti"`
	// Card: the request carries the card fields (and a MAC when signed).
	Card bool `json:"card"`
	// Advice and Uploaded pick the request among several of one type (an
	// advice, an end of batch after an upload); absent, either.
	Advice   *bool `json:"advice"`
	Uploaded *bool `json:"uploaded"`
	// Chip picks the request for a chip card's transaction (cup: its
	// upload record, 60.3 203); absent, either.
	Chip   *bool             `json:"chip"`
	Fields map[string]string `json:"fields"`
}

// readHostData returns the acqsim section of a dialect's data file, merged
// over the one it is like.
func readHostData(raw []byte) (*hostData, error) {
	var file struct {
		Acqsim map[string]json.RawMessage `json:"acqsim"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, err
	}
	if file.Acqsim == nil {
		return nil, fmt.Errorf(`the data file has no "acqsim" section`)
	}
	merged := file.Acqsim
	if like, ok := file.Acqsim["like"]; ok {
		var name string
		if err := json.Unmarshal(like, &name); err != nil {
			return nil, fmt.Errorf("acqsim.like: %w", err)
		}
		registry.RLock()
		base, ok := registry.defs[name]
		registry.RUnlock()
		if !ok {
			return nil, fmt.Errorf("acqsim.like: dialect %q is not registered (register it first)", name)
		}
		var baseFile struct {
			Acqsim map[string]json.RawMessage `json:"acqsim"`
		}
		if err := json.Unmarshal(base.Spec, &baseFile); err != nil {
			return nil, err
		}
		merged = baseFile.Acqsim
		maps.Copy(merged, file.Acqsim)
		delete(merged, "like")
	}
	b, _ := json.Marshal(merged)
	var h hostData
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("the acqsim section: %w", err)
	}
	return &h, nil
}

// A path is where a value lies: a field, or a piece of one.
type path struct {
	field    int
	off, len int // len 0: the whole field
}

func (p path) of(v string) string {
	if p.len == 0 {
		return v
	}
	if len(v) < p.off+p.len {
		return ""
	}
	return v[p.off : p.off+p.len]
}

// parsePath reads "70" or "60.kind".
func (h *hostData) parsePath(s string) (path, error) {
	id, name, piece := strings.Cut(s, ".")
	n, err := strconv.Atoi(id)
	if err != nil || n < 2 || n > 128 {
		return path{}, fmt.Errorf("path %q: want a field number 2-128, then .part", s)
	}
	p := path{field: n}
	if !piece {
		return p, nil
	}
	off := 0
	for _, pt := range h.Parts[id] {
		if pt.Name == name {
			p.off, p.len = off, pt.Length
			return p, nil
		}
		off += pt.Length
	}
	return path{}, fmt.Errorf("path %q: field %s has no part %q (parts: %s)", s, id, name, partNames(h.Parts[id]))
}

func partNames(ps []part) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// fieldIDs parses the keys of a field map ("3", "60") in order of number.
func fieldIDs(m map[string]string) ([]int, error) {
	ids := make([]int, 0, len(m))
	for k := range m {
		n, err := strconv.Atoi(k)
		if err != nil || n < 2 || n > 128 {
			return nil, fmt.Errorf("field %q: want a number 2-128", k)
		}
		ids = append(ids, n)
	}
	slices.Sort(ids)
	return ids, nil
}

func txnType(s string) (txn.Type, error) {
	t := txn.Type(s)
	if !txn.Known(t) {
		names := make([]string, len(txn.Types))
		for i, info := range txn.Types {
			names[i] = string(info.Type)
		}
		return "", fmt.Errorf("transaction type %q: want one of %s", s, strings.Join(names, ", "))
	}
	return t, nil
}
