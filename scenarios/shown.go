package scenarios

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/acqsim/acqsim/txn"
)

// A load error quotes what the file says where it is wrong, but never much
// of it: a value of 900 KB is not echoed back, and a card number in a
// scenario (pan == "...") is masked as everywhere else.
const (
	// quoteMax is the most bytes of a value an error quotes.
	quoteMax = 40
	// lineMax is the most bytes of one problem's line, whatever wrote it
	// (the YAML library, expr).
	lineMax = 400
)

// shown is a value of the file as an error shows it: %q quotes at most
// quoteMax bytes of it, %s and %v at most lineMax, card numbers masked.
type shown string

func (s shown) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, quote(string(s)))
		return
	}
	io.WriteString(f, clip(maskPANs(string(s)), lineMax))
}

// partyID is a merchant's or terminal's ID as an error shows it: bounded,
// but not masked (a merchant ID is 15 digits, and no card number).
type partyID string

func (s partyID) Format(f fmt.State, verb rune) { io.WriteString(f, quoteAs(string(s), false)) }

// composed is a part of a message made of values already shown: bounded
// only.
type composed string

func (s composed) Format(f fmt.State, verb rune) { io.WriteString(f, clip(string(s), lineMax)) }

// shownArgs makes the strings among an error's arguments shown.
func shownArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = shown(s)
		}
		out[i] = a
	}
	return out
}

// quote quotes a value of the file for an error: its first quoteMax bytes,
// and its length when it is longer.
func quote(s string) string { return quoteAs(s, true) }

func quoteAs(s string, mask bool) string {
	if mask {
		s = maskPANs(s)
	}
	if len(s) <= quoteMax {
		return strconv.Quote(s)
	}
	cut := quoteMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// clip bounds a message to n bytes, saying how long it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// tidy is the last word on a problem's line, whoever wrote it: bounded,
// card numbers masked.
func tidy(line string) string { return clip(maskPANs(line), lineMax) }

var digitRun = regexp.MustCompile(`[0-9]{13,19}`)

// maskPANs masks whatever could be a card number, 13 to 19 digits in a row,
// as the journal does: first six and last four. A merchant ID of 15 digits is
// masked too; the line still says which.
func maskPANs(s string) string {
	if len(s) < 13 {
		return s
	}
	return digitRun.ReplaceAllStringFunc(s, txn.MaskPAN)
}

// badCharacter finds the first byte sequence YAML refuses (invalid UTF-8, a
// control character), for an error with its line and column: the YAML
// library gives neither. ok is false when there is none (or the file is
// UTF-16, which the YAML library reads itself).
func badCharacter(raw []byte) (line, col int, what string, ok bool) {
	if len(raw) >= 2 && (raw[0] == 0xFE && raw[1] == 0xFF || raw[0] == 0xFF && raw[1] == 0xFE) {
		return 0, 0, "", false
	}
	line, col = 1, 1
	for i := 0; i < len(raw); {
		r, width := utf8.DecodeRune(raw[i:])
		switch {
		case r == utf8.RuneError && width <= 1:
			return line, col, fmt.Sprintf("invalid UTF-8 (byte 0x%02X)", raw[i]), true
		case r == '\n':
			line, col = line+1, 0
		case !printable(r) && !(i == 0 && r == 0xFEFF):
			return line, col, fmt.Sprintf("control character %U is not allowed", r), true
		}
		i += width
		col++
	}
	return 0, 0, "", false
}

// printable is what YAML allows in a stream.
func printable(r rune) bool {
	switch {
	case r == 0x09, r == 0x0A, r == 0x0D, r >= 0x20 && r <= 0x7E, r == 0x85,
		r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
