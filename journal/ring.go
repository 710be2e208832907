package journal

import (
	"encoding/binary"
	"time"
)

// ring holds the entries in memory, each packed into a byte slice of its own:
// the garbage collector sees one pointer per entry and no strings, where an
// Entry would show it two dozen, and a full ring reuses each slot's bytes for
// the entry that replaces it. Slots sit in fixed-size chunks, so that growing
// the ring never copies what it holds.
type ring struct {
	chunks [][][]byte
	n      int
}

const chunkSize = 1024

func (r *ring) len() int { return r.n }

func (r *ring) slot(i int) *[]byte { return &r.chunks[i/chunkSize][i%chunkSize] }

func (r *ring) append(e *Entry) {
	if r.n%chunkSize == 0 {
		r.chunks = append(r.chunks, make([][]byte, chunkSize))
	}
	r.n++
	r.put(r.n-1, e)
}

// put packs e into slot i, over what it held.
func (r *ring) put(i int, e *Entry) {
	s := r.slot(i)
	*s = pack((*s)[:0], e)
}

// at unpacks entry i; the frames (which hold card data in clear) only when
// asked for.
func (r *ring) at(i int, frames bool) Entry { return unpack(*r.slot(i), frames) }

// selects reports whether f selects entry i, without unpacking it.
func (r *ring) selects(i int, f *Filter) bool { return f.selects(*r.slot(i)) }

// seq is entry i's number, without unpacking the rest.
func (r *ring) seq(i int) uint64 { return binary.LittleEndian.Uint64(*r.slot(i)) }

// pack appends e's packed form to b: the number (8 bytes, first, for seq),
// the time, the numbers as varints, then each string as its length and bytes,
// in the order of the fields below. Replay is not kept in memory.
func pack(b []byte, e *Entry) []byte {
	b = binary.LittleEndian.AppendUint64(b, e.Seq)
	n := len(b)
	b = append(b, 0)
	// By zone offset (the local zone comes back as itself); it fails only
	// for offsets that are not whole minutes, which no zone has.
	b, _ = e.Time.AppendBinary(b)
	b[n] = byte(len(b) - n - 1)
	b = binary.AppendVarint(b, e.Amount)
	b = binary.AppendVarint(b, e.LatencyUS)
	b = binary.AppendVarint(b, int64(e.Step))
	for _, s := range [...]string{
		e.Conn, e.Dialect, e.MTI, e.RespMTI, e.Txn, e.Proc, e.STAN, e.RRN, e.OrigRRN,
		e.TID, e.MID, e.Batch, e.Currency, e.PAN, e.RC, e.Decision, e.Scenario,
		e.Rule, e.Action, e.Error, e.Request, e.Response, e.ErrorKind, e.Acts.packed,
	} {
		b = appendString(b, s)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Where pack puts the strings a Filter looks at, in its list of strings
// (they must agree with pack; TestSelectsAgreesWithMatch checks they do).
const (
	packedMTI      = 2
	packedTxn      = 4
	packedSTAN     = 6
	packedRRN      = 7
	packedTID      = 9
	packedMID      = 10
	packedRC       = 14
	packedScenario = 16
	packedRule     = 17
	packedStrings  = 24
)

// selects reports whether f selects the packed entry b, reading it in place:
// a query unpacks only what it returns.
func (f *Filter) selects(b []byte) bool {
	if binary.LittleEndian.Uint64(b) <= f.After {
		return false
	}
	b = b[8:]
	tn := int(b[0])
	timeBytes := b[1 : 1+tn]
	b = b[1+tn:]
	for range 3 { // amount, latency, step
		_, k := binary.Varint(b)
		b = b[k:]
	}
	var s [packedStrings][]byte
	for i := range s {
		l, k := binary.Uvarint(b)
		s[i], b = b[k:k+int(l)], b[k+int(l):]
	}
	eq := func(want string, i int) bool { return want == "" || want == string(s[i]) }
	if !eq(f.TID, packedTID) || !eq(f.MID, packedMID) || !eq(f.STAN, packedSTAN) || !eq(f.RRN, packedRRN) ||
		!eq(f.MTI, packedMTI) || !eq(f.Txn, packedTxn) || !eq(f.RC, packedRC) ||
		!eq(f.Scenario, packedScenario) || !eq(f.Rule, packedRule) {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		var t time.Time
		_ = t.UnmarshalBinary(timeBytes)
		if !f.Since.IsZero() && t.Before(f.Since) || !f.Until.IsZero() && !t.Before(f.Until) {
			return false
		}
	}
	return true
}

// unpack is pack's inverse.
func unpack(b []byte, frames bool) Entry {
	var e Entry
	e.Seq = binary.LittleEndian.Uint64(b)
	b = b[8:]
	tn := int(b[0])
	_ = e.Time.UnmarshalBinary(b[1 : 1+tn]) // what AppendBinary wrote
	b = b[1+tn:]
	num := func() int64 {
		v, k := binary.Varint(b)
		b = b[k:]
		return v
	}
	e.Amount, e.LatencyUS, e.Step = num(), num(), int(num())
	for _, s := range [...]*string{
		&e.Conn, &e.Dialect, &e.MTI, &e.RespMTI, &e.Txn, &e.Proc, &e.STAN, &e.RRN, &e.OrigRRN,
		&e.TID, &e.MID, &e.Batch, &e.Currency, &e.PAN, &e.RC, &e.Decision, &e.Scenario,
		&e.Rule, &e.Action, &e.Error, &e.Request, &e.Response, &e.ErrorKind, &e.Acts.packed,
	} {
		l, k := binary.Uvarint(b)
		b = b[k:]
		if s != &e.Request && s != &e.Response || frames {
			*s = string(b[:l])
		}
		b = b[l:]
	}
	return e
}
