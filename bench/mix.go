package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/acqsim/acqsim/txn"
)

// kind is a transaction the load generator sends.
type kind uint8

const (
	kSale kind = iota
	kVoid
	kReversal
	kBalance
	numKinds
)

// kindNames are the names a mix and a report use.
var kindNames = [numKinds]string{"sale", "void", "reversal", "balance"}

func (k kind) String() string { return kindNames[k] }

func (k kind) txn() txn.Type {
	return [numKinds]txn.Type{txn.Sale, txn.Void, txn.Reversal, txn.Balance}[k]
}

// Mix is how often each kind of transaction is sent, as integer weights:
// sale=90,void=4,reversal=3,balance=3 sends 90 sales for every 4 voids.
type Mix [numKinds]int

// SalesOnly is the default mix.
var SalesOnly = Mix{kSale: 1}

// ParseMix reads a mix written as name=weight pairs separated by commas;
// names are sale, void, reversal and balance, and a name alone means weight 1.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := [numKinds]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, hasWeight := strings.Cut(part, "=")
		k, ok := kindByName(strings.TrimSpace(name))
		if !ok {
			return Mix{}, fmt.Errorf("mix: unknown transaction %q (want %s)", name, strings.Join(kindNames[:], ", "))
		}
		if seen[k] {
			return Mix{}, fmt.Errorf("mix: %s given twice", name)
		}
		seen[k] = true
		w := 1
		if hasWeight {
			n, err := strconv.Atoi(strings.TrimSpace(weight))
			if err != nil || n < 0 || n > 1_000_000 {
				return Mix{}, fmt.Errorf("mix: weight of %s is %q, want a whole number from 0 to 1000000", name, weight)
			}
			w = n
		}
		m[k] = w
	}
	if m.total() == 0 {
		return Mix{}, fmt.Errorf("mix %q: no transaction has a weight above 0", s)
	}
	return m, nil
}

func kindByName(name string) (kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return kind(k), true
		}
	}
	return 0, false
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// String writes the mix as ParseMix reads it.
func (m Mix) String() string {
	var parts []string
	for k, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", kindNames[k], w))
		}
	}
	return strings.Join(parts, ",")
}

// pick chooses a kind with probability proportional to its weight, given r
// drawn uniformly from [0, total).
func (m Mix) pick(r int) kind {
	for k, w := range m {
		if r < w {
			return kind(k)
		}
		r -= w
	}
	return kSale
}
