package txn

import "strings"

// How a card was read, from the first two digits of F22 (the POS entry mode).
const (
	EntryKeyed         = "01"
	EntryMagstripe     = "02"
	EntryChip          = "05"
	EntryContactless   = "07"
	EntryFallback      = "80"
	EntryFullTrack     = "90"
	EntryContactlessMS = "91" // contactless, magstripe data
)

// ChipRead reports a card read by its chip, in contact or not.
func ChipRead(entryMode string) bool {
	return strings.HasPrefix(entryMode, EntryChip) || Contactless(entryMode)
}

// Contactless reports a card read without contact (07x, or 91x: its
// magstripe data over the air).
func Contactless(entryMode string) bool {
	return strings.HasPrefix(entryMode, EntryContactless) || strings.HasPrefix(entryMode, EntryContactlessMS)
}

// Fallback reports a magstripe read of a chip card: F22 says so (80x), or a
// track was read (02x, 90x) whose service code starts with 2 or 6 (the card
// has a chip). field gives the request's fields, for track 2 (F35); it may be
// nil.
func Fallback(entryMode string, field func(int) string) bool {
	if strings.HasPrefix(entryMode, EntryFallback) {
		return true
	}
	if !strings.HasPrefix(entryMode, EntryMagstripe) && !strings.HasPrefix(entryMode, EntryFullTrack) || field == nil {
		return false
	}
	code := ServiceCode(field(35))
	return code != "" && (code[0] == '2' || code[0] == '6')
}

// ServiceCode is the service code of track 2 data: the three digits after
// the separator and the expiry date (YYMM); "" when the track has none.
func ServiceCode(track2 string) string {
	i := strings.IndexAny(track2, "=D")
	if i < 0 || len(track2) < i+8 {
		return ""
	}
	return track2[i+5 : i+8]
}
