package journal

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// Every field of an entry but Replay survives the ring: a field added to
// Entry and not to pack fails here.
func TestPackKeepsEveryField(t *testing.T) {
	var e Entry
	v := reflect.ValueOf(&e).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(v.Type().Field(i).Name + "-value")
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(-1000 * (i + 1)))
		case reflect.Uint64:
			f.SetUint(uint64(1<<40 + i))
		case reflect.Struct:
			if f.Type() == reflect.TypeFor[Acts]() {
				f.Set(reflect.ValueOf(MakeActs(Act{Kind: "respond", Value: "rc=51"}, Act{Kind: "fault", Name: "close"})))
			} // else Time, set below
		default:
			t.Fatalf("Entry.%s is a %s: teach pack and this test about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	zones := map[string]*time.Location{"UTC": time.UTC, "Local": time.Local, "+08:00": time.FixedZone("CST", 8*3600)}
	for name, loc := range zones {
		e.Time = time.Date(2026, 11, 21, 23, 59, 58, 123456789, loc)
		e.Replay = ""
		got := unpack(pack(nil, &e), true)
		if !got.Time.Equal(e.Time) || got.Time.Format(time.RFC3339Nano) != e.Time.Format(time.RFC3339Nano) {
			t.Errorf("%s: time %v came back as %v", name, e.Time, got.Time)
		}
		got.Time = e.Time
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s: unpack(pack(e)) =\n%+v\nwant\n%+v", name, got, e)
		}
		if noFrames := unpack(pack(nil, &e), false); noFrames.Request != "" || noFrames.Response != "" || noFrames.Error != e.Error {
			t.Errorf("%s: without frames: request %q, response %q, error %q", name, noFrames.Request, noFrames.Response, noFrames.Error)
		}
	}
	var zero Entry
	if got := unpack(pack(nil, &zero), true); !reflect.DeepEqual(got, zero) {
		t.Errorf("the zero entry came back as %+v", got)
	}
}

// A full ring replaces entries in place, reusing their bytes: appending
// costs no allocation once every slot has held an entry as long.
func TestFullRingDoesNotAllocate(t *testing.T) {
	j := New(4)
	e := Entry{Time: time.Now(), MTI: "0200", STAN: "000001", Request: "0200...", Response: "0210...", Decision: "approved"}
	for i := 0; i < 8; i++ {
		j.Append(e)
	}
	if n := testing.AllocsPerRun(100, func() { j.Append(e) }); n != 0 {
		t.Errorf("Append to a full ring allocates %.0f times, want 0", n)
	}
}

// A filter selects a packed entry exactly when it matches the entry
// unpacked: queries read entries in place and must not disagree with Match.
func TestSelectsAgreesWithMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	base := time.Date(2026, 6, 11, 10, 0, 0, 0, time.UTC)
	entry := func() Entry {
		return Entry{
			Seq: uint64(rng.IntN(20)), Time: base.Add(time.Duration(rng.IntN(10)) * time.Minute),
			Conn: "127.0.0.1:1", Dialect: "cup", MTI: pick("0200", "0400", ""), RespMTI: "0210",
			Txn: pick("sale", "void", ""), Proc: "000000", STAN: pick("000001", "000002"), RRN: pick("", "000000000001"),
			OrigRRN: pick("", "x"), TID: pick("T1", "T2", ""), MID: pick("M1", "M2"), Batch: "000001", Currency: "156",
			PAN: "622202******0123", RC: pick("00", "51", ""), Decision: "d", Scenario: pick("", "timeout"),
			Rule: pick("", "r1"), Action: "a", Error: pick("", "e"), Request: "req", Response: "resp",
			Amount: int64(rng.IntN(3)), LatencyUS: 5, Step: rng.IntN(2),
		}
	}
	filter := func() Filter {
		f := Filter{TID: pick("", "T1", "T2"), MID: pick("", "M1"), STAN: pick("", "000001"), RRN: pick("", "000000000001"),
			MTI: pick("", "0200"), Txn: pick("", "sale"), RC: pick("", "00"), Scenario: pick("", "timeout"), Rule: pick("", "r1"),
			After: uint64(rng.IntN(10))}
		if rng.IntN(3) == 0 {
			f.Since = base.Add(time.Duration(rng.IntN(10)) * time.Minute)
		}
		if rng.IntN(3) == 0 {
			f.Until = base.Add(time.Duration(rng.IntN(10)) * time.Minute)
		}
		return f
	}
	agreed, selected := 0, 0
	for range 20000 {
		e, f := entry(), filter()
		want := f.Match(&e)
		if got := f.selects(pack(nil, &e)); got != want {
			t.Fatalf("filter %+v on %+v: selects %v, Match %v", f, e, got, want)
		}
		agreed++
		if want {
			selected++
		}
	}
	if selected == 0 || selected == agreed {
		t.Errorf("%d of %d selected: the cases do not tell the two apart", selected, agreed)
	}
}
