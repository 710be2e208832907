package fault

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/fixtures"
)

// wire is a fake Wire that records what a fault does with it, in order.
type wire struct {
	events  []string // "write", "close", "reset", "later", "refuse"
	writes  [][]byte // copies, as the bytes were at the time of the write
	later   []scheduled
	refused []time.Duration
	err     error // returned by every Write
}

type scheduled struct {
	d time.Duration
	f func()
}

var _ Wire = (*wire)(nil)

func (w *wire) Write(b []byte) error {
	w.events = append(w.events, "write")
	w.writes = append(w.writes, append([]byte(nil), b...))
	return w.err
}

func (w *wire) Close() { w.events = append(w.events, "close") }
func (w *wire) Reset() { w.events = append(w.events, "reset") }

func (w *wire) Later(d time.Duration, f func()) {
	w.events = append(w.events, "later")
	w.later = append(w.later, scheduled{d, f})
}

func (w *wire) Refuse(d time.Duration) {
	w.events = append(w.events, "refuse")
	w.refused = append(w.refused, d)
}

// frame is a stand-in response frame; faults treat it as opaque bytes.
func frame() []byte { return []byte("\x00\x0a0210ABCDEF") }

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// deliver looks up a fault by name, as a scenario would, lets configure set
// its parameters, and delivers frame through a fresh fake wire.
func deliver(t *testing.T, name string, configure func(Spec), frame []byte) (*wire, error) {
	t.Helper()
	spec, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(spec)
	}
	if err := spec.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	w := &wire{}
	return w, spec.New(rng(1)).Deliver(w, frame)
}

func events(w *wire) string { return strings.Join(w.events, " ") }

func TestNoResponse(t *testing.T) {
	w, err := deliver(t, "no-response", nil, frame())
	if err != nil || len(w.events) != 0 {
		t.Fatalf("no-response: err %v, events %q; want nothing at all", err, events(w))
	}
}

func TestClose(t *testing.T) {
	for _, tc := range []struct {
		after bool
		want  string
	}{
		{false, "close"},
		{true, "write close"},
	} {
		w, err := deliver(t, "close", func(s Spec) { s.(*Close).After = tc.after }, frame())
		if err != nil || events(w) != tc.want {
			t.Errorf("close{after: %v}: err %v, events %q, want %q", tc.after, err, events(w), tc.want)
		}
		if tc.after && !bytes.Equal(w.writes[0], frame()) {
			t.Errorf("close{after: true} wrote %q, want the frame", w.writes[0])
		}
	}

	// A failed write is reported, and the connection is closed all the same.
	boom := errors.New("boom")
	w := &wire{err: boom}
	if err := (Close{After: true}).Deliver(w, frame()); !errors.Is(err, boom) || events(w) != "write close" {
		t.Errorf("close{after: true} on a failing wire: err %v, events %q", err, events(w))
	}
}

func TestReset(t *testing.T) {
	w, err := deliver(t, "reset", nil, frame())
	if err != nil || events(w) != "reset" {
		t.Fatalf("reset: err %v, events %q; want a reset and no write", err, events(w))
	}
}

func TestGarbage(t *testing.T) {
	spec, err := Lookup("garbage")
	if err != nil {
		t.Fatal(err)
	}
	if g := spec.(*Garbage); g.Bytes != 16 {
		t.Errorf("garbage defaults to %d bytes, want 16", g.Bytes)
	}

	g := &Garbage{Bytes: 32}
	send := func(seed uint64) []byte {
		w := &wire{}
		if err := g.New(rng(seed)).Deliver(w, frame()); err != nil {
			t.Fatal(err)
		}
		if events(w) != "write" {
			t.Fatalf("garbage: events %q, want one write and the connection left open", events(w))
		}
		return w.writes[0]
	}
	got := send(7)
	if len(got) != 32 {
		t.Fatalf("garbage wrote %d bytes, want 32", len(got))
	}
	// The bytes are the rng's: one byte per draw of 0..255.
	r := rng(7)
	want := make([]byte, 32)
	for i := range want {
		want[i] = byte(r.UintN(256))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("garbage wrote %X, want the rng's %X", got, want)
	}
	if again := send(7); !bytes.Equal(again, got) {
		t.Errorf("the same seed gave %X, then %X", got, again)
	}
	if other := send(8); bytes.Equal(other, got) {
		t.Errorf("seeds 7 and 8 gave the same garbage %X", got)
	}
	if bytes.Contains(got, frame()[2:]) {
		t.Errorf("garbage %X contains the response", got)
	}

	// Each exchange draws afresh.
	r = rng(7)
	a, b := &wire{}, &wire{}
	g.New(r).Deliver(a, nil)
	g.New(r).Deliver(b, nil)
	if bytes.Equal(a.writes[0], b.writes[0]) {
		t.Error("two exchanges from one rng sent the same garbage")
	}

	for _, tc := range []struct {
		n  int
		ok bool
	}{{-1, false}, {0, false}, {1, true}, {16, true}, {65536, true}, {65537, false}} {
		if err := (&Garbage{Bytes: tc.n}).Validate(); (err == nil) != tc.ok {
			t.Errorf("garbage{bytes: %d}.Validate() = %v, want ok %v", tc.n, err, tc.ok)
		}
	}
}

func TestTruncate(t *testing.T) {
	f := []byte("0123456789ABCDEFGHIJ") // 20 bytes
	for _, tc := range []struct {
		bytes int
		frame []byte
		want  string
	}{
		{0, f, "0123456789"},
		{5, f, "01234"},
		{19, f, "0123456789ABCDEFGHI"},
		{20, f, "0123456789"}, // the whole frame would not be cut short: half
		{99, f, "0123456789"},
		{0, []byte("0123456"), "012"},
	} {
		w := &wire{}
		tr := &Truncate{Bytes: tc.bytes}
		if err := tr.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := tr.New(rng(1)).Deliver(w, tc.frame); err != nil {
			t.Fatal(err)
		}
		if events(w) != "write close" || string(w.writes[0]) != tc.want {
			t.Errorf("truncate{bytes: %d} of %d bytes: events %q, wrote %q; want %q then close",
				tc.bytes, len(tc.frame), events(w), w.writes[0], tc.want)
		}
	}
	if err := (&Truncate{Bytes: -1}).Validate(); err == nil {
		t.Error("truncate{bytes: -1} validates")
	}

	boom := errors.New("boom")
	w := &wire{err: boom}
	if err := (Truncate{}).Deliver(w, f); !errors.Is(err, boom) || events(w) != "write close" {
		t.Errorf("truncate on a failing wire: err %v, events %q; want the error and a close", err, events(w))
	}
}

func TestDuplicate(t *testing.T) {
	t.Run("back to back", func(t *testing.T) {
		w, err := deliver(t, "duplicate", nil, frame())
		if err != nil || events(w) != "write write" {
			t.Fatalf("duplicate{gap: 0}: err %v, events %q, want two writes", err, events(w))
		}
		for _, b := range w.writes {
			if !bytes.Equal(b, frame()) {
				t.Errorf("duplicate wrote %q, want the frame", b)
			}
		}
	})

	t.Run("with a gap", func(t *testing.T) {
		buf := frame()
		w := &wire{}
		if err := (&Duplicate{Gap: 500 * time.Millisecond}).New(rng(1)).Deliver(w, buf); err != nil {
			t.Fatal(err)
		}
		if events(w) != "write later" || len(w.later) != 1 || w.later[0].d != 500*time.Millisecond {
			t.Fatalf("duplicate{gap: 500ms}: events %q, scheduled %v; want a write, then one copy in 500ms", events(w), w.later)
		}
		// The caller reuses its buffer (the host reads the next frame into
		// it) before the copy is due.
		for i := range buf {
			buf[i] = 'X'
		}
		w.later[0].f()
		if len(w.writes) != 2 || !bytes.Equal(w.writes[1], frame()) || !bytes.Equal(w.writes[0], w.writes[1]) {
			t.Fatalf("the scheduled copy wrote %q, want the original frame %q", w.writes[len(w.writes)-1], frame())
		}
	})

	t.Run("first write fails", func(t *testing.T) {
		boom := errors.New("boom")
		w := &wire{err: boom}
		if err := (Duplicate{Gap: time.Second}).Deliver(w, frame()); !errors.Is(err, boom) || events(w) != "write" {
			t.Errorf("err %v, events %q; want the error and no copy scheduled", err, events(w))
		}
	})

	if err := (&Duplicate{Gap: -time.Millisecond}).Validate(); err == nil {
		t.Error("duplicate{gap: -1ms} validates")
	}
}

// response builds a cup 0210 with a STAN, F39 and the working keys of a
// sign-on reply in F62.
func response(t *testing.T, stan string, f62 []byte) *iso8583.Message {
	t.Helper()
	d, err := fixtures.Dialect("cup")
	if err != nil {
		t.Fatal(err)
	}
	m := iso8583.NewMessage(d.Spec)
	m.MTI("0210")
	for id, v := range map[int]string{3: "000000", 11: stan, 39: "00", 41: "TERM0001"} {
		if err := m.Field(id, v); err != nil {
			t.Fatal(err)
		}
	}
	if f62 != nil {
		if err := m.BinaryField(62, f62); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Pack(); err != nil {
		t.Fatalf("the test message does not pack: %v", err)
	}
	return m
}

func str(t *testing.T, m *iso8583.Message, id int) string {
	t.Helper()
	if m.GetField(id) == nil {
		return ""
	}
	s, err := m.GetString(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func edit(t *testing.T, what string, m *iso8583.Message) {
	t.Helper()
	spec, err := Lookup("corrupt")
	if err != nil {
		t.Fatal(err)
	}
	spec.(*Corrupt).What = what
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	ed, ok := spec.New(rng(1)).(Editor)
	if !ok {
		t.Fatal("corrupt is not an Editor: the host would never apply it")
	}
	if err := ed.Edit(m); err != nil {
		t.Fatalf("corrupt %s: %v", what, err)
	}
	if _, err := m.Pack(); err != nil {
		t.Fatalf("corrupt %s: the edited message does not pack: %v", what, err)
	}
}

func TestCorruptEdit(t *testing.T) {
	t.Run("stan", func(t *testing.T) {
		for stan, want := range map[string]string{"000123": "000124", "999999": "000000", "000000": "000001"} {
			m := response(t, stan, nil)
			edit(t, "stan", m)
			if got := str(t, m, 11); got != want {
				t.Errorf("STAN %s corrupted to %s, want %s", stan, got, want)
			}
		}
	})
	t.Run("mti", func(t *testing.T) {
		m := response(t, "000001", nil)
		edit(t, "mti", m)
		if mti, _ := m.GetMTI(); mti != "0200" {
			t.Errorf("MTI 0210 corrupted to %s, want the request's 0200", mti)
		}
	})
	t.Run("f39", func(t *testing.T) {
		m := response(t, "000001", nil)
		edit(t, "f39", m)
		if m.GetField(39) != nil {
			t.Error("F39 is still there")
		}
		if str(t, m, 11) != "000001" {
			t.Error("removing F39 changed the STAN")
		}
	})
	t.Run("check-value", func(t *testing.T) {
		keys := bytes.Repeat([]byte{0x11}, 40)
		keys[39] = 0x5A
		orig := append([]byte(nil), keys...)
		m := response(t, "000001", keys)
		edit(t, "check-value", m)
		got, err := m.GetField(62).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte(nil), orig[:39]...), 0x5A^0xFF)
		if !bytes.Equal(got, want) {
			t.Errorf("F62 corrupted to %X, want only its last byte flipped: %X", got, want)
		}
		if !bytes.Equal(keys, orig) {
			t.Error("corrupting F62 changed the caller's key bytes")
		}

		// A response without working keys (not a cup sign-on) is left alone.
		m = response(t, "000001", nil)
		edit(t, "check-value", m)
		if m.GetField(62) != nil || str(t, m, 39) != "00" {
			t.Error("check-value corruption changed a response without F62")
		}
	})
	t.Run("mac edits nothing", func(t *testing.T) {
		m := response(t, "000001", nil)
		before, _ := m.Pack()
		edit(t, "mac", m)
		if after, _ := m.Pack(); !bytes.Equal(before, after) {
			t.Error("the mac corruption changed the message before packing; it belongs on the wire")
		}
	})
}

func TestCorruptDeliver(t *testing.T) {
	for _, last := range []byte{'0', '1', 'F', 0x00, 0xA7} {
		f := append([]byte("\x00\x0bframe+MAC"), last)
		orig := append([]byte(nil), f...)
		w := &wire{}
		if err := (Corrupt{What: "mac"}).Deliver(w, f); err != nil {
			t.Fatal(err)
		}
		if events(w) != "write" {
			t.Fatalf("events %q, want one write", events(w))
		}
		got := w.writes[0]
		if len(got) != len(orig) || !bytes.Equal(got[:len(got)-1], orig[:len(orig)-1]) || got[len(got)-1] == last {
			t.Errorf("MAC ending %q sent as %q, want only the last byte changed", last, got)
		}
		if !bytes.Equal(f, orig) {
			t.Error("the mac corruption changed the caller's frame")
		}
	}
	// The other corruptions are edits: the frame goes out as it is.
	for _, what := range []string{"stan", "mti", "f39", "check-value"} {
		w := &wire{}
		if err := (Corrupt{What: what}).Deliver(w, frame()); err != nil || events(w) != "write" || !bytes.Equal(w.writes[0], frame()) {
			t.Errorf("corrupt %s delivered: err %v, events %q, %q; want the frame as it is", what, err, events(w), w.writes)
		}
	}
}

func TestCorruptValidate(t *testing.T) {
	for _, what := range []string{"stan", "mti", "f39", "mac", "check-value"} {
		if err := (&Corrupt{What: what}).Validate(); err != nil {
			t.Errorf("corrupt %s: %v", what, err)
		}
	}
	for _, what := range []string{"", "STAN", "f64", "checkvalue"} {
		if err := (&Corrupt{What: what}).Validate(); err == nil {
			t.Errorf("corrupt %q validates", what)
		}
	}
	spec, _ := Lookup("corrupt")
	if c := spec.(*Corrupt); c.What != "stan" {
		t.Errorf("corrupt defaults to %q, want stan", c.What)
	}
}

func TestRefuse(t *testing.T) {
	w, err := deliver(t, "refuse", func(s Spec) { s.(*Refuse).For = 3 * time.Second }, frame())
	if err != nil || events(w) != "refuse write" || !reflect.DeepEqual(w.refused, []time.Duration{3 * time.Second}) {
		t.Fatalf("refuse{for: 3s}: err %v, events %q, refused %v; want Refuse(3s) and the frame", err, events(w), w.refused)
	}
	if !bytes.Equal(w.writes[0], frame()) {
		t.Errorf("refuse wrote %q, want the frame", w.writes[0])
	}
	spec, _ := Lookup("refuse")
	if r := spec.(*Refuse); r.For != 30*time.Second {
		t.Errorf("refuse defaults to %v, want 30s", r.For)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if err := (&Refuse{For: d}).Validate(); err == nil {
			t.Errorf("refuse{for: %v} validates", d)
		}
	}
}

// TestDurationsBounded: no fault takes a duration the host's clock arithmetic
// cannot hold; 2562047h (the largest time.Duration) validated and then
// refused nothing, its end overflowing into the past.
func TestDurationsBounded(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		ok   bool
		want string
	}{
		{&Refuse{For: MaxDuration}, true, ""},
		{&Refuse{For: MaxDuration + time.Nanosecond}, false, "refuse: for must be at most 24h0m0s, not 24h0m0.000000001s"},
		{&Refuse{For: 2562047 * time.Hour}, false, "refuse: for must be at most 24h0m0s, not 2562047h0m0s"},
		{&Refuse{For: 0}, false, "refuse: for must be positive, not 0s"},
		{&Duplicate{Gap: MaxDuration}, true, ""},
		{&Duplicate{Gap: 0}, true, ""},
		{&Duplicate{Gap: 25 * time.Hour}, false, "duplicate: gap must be at most 24h0m0s, not 25h0m0s"},
		{&Duplicate{Gap: -time.Millisecond}, false, "duplicate: gap must not be negative, not -1ms"},
	} {
		err := tc.spec.Validate()
		if tc.ok != (err == nil) || err != nil && err.Error() != tc.want {
			t.Errorf("%#v.Validate() = %v, want %q", tc.spec, err, tc.want)
		}
	}
}

func TestRegistry(t *testing.T) {
	want := []string{"close", "corrupt", "duplicate", "garbage", "no-response", "refuse", "reset", "truncate"}
	names := Names()
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Names() = %v, want %v", names, want)
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names() is not sorted: %v", names)
	}

	for _, name := range names {
		spec, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if err := spec.Validate(); err != nil {
			t.Errorf("%s: its defaults do not validate: %v", name, err)
		}
		f := spec.New(rng(1))
		if f == nil {
			t.Fatalf("%s: New returned nil", name)
		}
		// Only corrupt changes the message; every other fault works on the
		// wire alone.
		if _, isEditor := f.(Editor); isEditor != (name == "corrupt") {
			t.Errorf("%s: Editor %v", name, isEditor)
		}
	}

	// Every Lookup is a fresh spec: configuring one scenario's fault does
	// not change another's.
	a, _ := Lookup("garbage")
	a.(*Garbage).Bytes = 99
	if b, _ := Lookup("garbage"); b.(*Garbage).Bytes != 16 {
		t.Error("a Lookup shares its spec with an earlier one")
	}

	for _, name := range []string{"", "latency", "Reset", "no_response"} {
		spec, err := Lookup(name)
		if err == nil || spec != nil {
			t.Errorf("Lookup(%q) = %v, %v; want an error", name, spec, err)
			continue
		}
		if !strings.Contains(err.Error(), "no-response") {
			t.Errorf("Lookup(%q): %v; want the known names listed", name, err)
		}
	}

	defer func() {
		if recover() == nil {
			t.Error("registering close twice does not panic")
		}
		if !reflect.DeepEqual(Names(), want) {
			t.Errorf("after the refused registration Names() = %v", Names())
		}
	}()
	Register("close", func() Spec { return &Close{} })
}

// TestDelivers: each fault says whether the terminal gets the answer; the
// scenario engine reads it (an undelivered settlement is not booked), so a
// new fault must say it too.
func TestDelivers(t *testing.T) {
	want := map[string]bool{"close": false, "corrupt": true, "duplicate": true, "garbage": false,
		"no-response": false, "refuse": true, "reset": false, "truncate": true}
	for _, name := range Names() {
		spec, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("fault %s: add it to this table with whether it delivers the answer", name)
			continue
		}
		if got := spec.Delivers(); got != w {
			t.Errorf("fault %s: Delivers() = %v, want %v", name, got, w)
		}
	}
	if !(&Close{After: true}).Delivers() {
		t.Error("close after the answer does not deliver it")
	}
}
