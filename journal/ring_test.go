package journal

import (
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
		case reflect.Struct: // Time
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
