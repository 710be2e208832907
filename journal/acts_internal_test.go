package journal

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// actsEntry has acts and an error kind: what this schema added.
func actsEntry(stan string) Entry {
	return Entry{
		Time: time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC), MTI: "0200", RespMTI: "0210", Txn: "sale", STAN: stan,
		TID: "10000001", RC: "51", Scenario: "flaky", Rule: "slow",
		Action: "books fault: fee-no-cap, respond rc=51, delay 45s, close",
		Acts: MakeActs(Act{Kind: "books-fault", Name: "fee-no-cap"}, Act{Kind: "respond", Value: "rc=51"},
			Act{Kind: "delay", Value: "45s"}, Act{Kind: "fault", Name: "close"}),
		Error: "writing the response: broken pipe", ErrorKind: ErrorWrite,
	}
}

func TestActs(t *testing.T) {
	list := []Act{{Kind: "respond", Value: "rc=51"}, {Kind: "fault", Name: "close"}, {Kind: "cut", Name: "rule 1", Value: "steps"}}
	a := MakeActs(list...)
	if got := a.List(); !reflect.DeepEqual(got, list) {
		t.Errorf("List() = %+v, want %+v", got, list)
	}
	if a.Len() != 3 {
		t.Errorf("Len() = %d, want 3", a.Len())
	}
	if a != MakeActs(list...) || a == MakeActs(list[:2]...) {
		t.Error("acts do not compare by what they hold")
	}
	if MakeActs() != (Acts{}) || (Acts{}).List() != nil {
		t.Error("no acts is not the zero value")
	}
	if n := testing.AllocsPerRun(100, func() {
		for range a.All() {
		}
	}); n != 0 {
		t.Errorf("All allocates %v times, want 0", n)
	}

	// In JSON, an array; none, nothing.
	raw, err := json.Marshal(Entry{Acts: a})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Acts []Act `json:"acts"`
	}
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back.Acts, list) {
		t.Errorf("JSON %s: acts %+v (%v), want %+v", raw, back.Acts, err, list)
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil || e.Acts != a {
		t.Errorf("JSON %s came back as %+v (%v)", raw, e.Acts.List(), err)
	}
	if raw, _ := json.Marshal(Entry{}); bytes.Contains(raw, []byte(`"acts"`)) {
		t.Errorf("an entry without acts says %s", raw)
	}
}

// The acts and the error kind are kept across a restart, in the file.
func TestActsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	want := actsEntry("000001")
	plain := Entry{Time: want.Time, MTI: "0800", Txn: "echo", STAN: "000002"}
	for _, e := range []Entry{want, plain} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j, err = Open(path, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got := j.Query(Filter{})
	if len(got) != 2 {
		t.Fatalf("%d entries after the restart, want 2", len(got))
	}
	want.Seq, plain.Seq = 1, 2
	if got[0] != want {
		t.Errorf("after the restart\n%+v\nwant\n%+v", got[0], want)
	}
	if got[1] != plain {
		t.Errorf("after the restart\n%+v\nwant\n%+v", got[1], plain)
	}
}

// A file of the schema before acts opens, its entries without acts, and
// keeps the acts of the entries appended after.
func TestActsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (2)`,
		migrations[0], migrations[1],
		`INSERT INTO journal (seq, time, conn, dialect, mti, response_mti, txn, proc, stan, rrn, tid, mid, batch, amount,
			currency, pan, rc, latency_us, decision, error, scenario, rule, step, action)
		VALUES (7, '2026-06-11T12:00:00Z', '', '', '0200', '0210', 'sale', '', '000007', '', '', '', '', 0,
			'', '', '51', 0, '', 'bad frame: old', 'flaky', 'decline', 0, 'respond rc=51')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	j, err := Open(path, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	old := j.Query(Filter{})
	if len(old) != 1 || old[0].Action != "respond rc=51" || old[0].Acts != (Acts{}) || old[0].ErrorKind != "" {
		t.Fatalf("the old entry came back as %+v", old)
	}
	if err := j.Append(actsEntry("000008")); err != nil {
		t.Fatal(err)
	}
	var acts, kind string
	if err := j.store.db.QueryRow(`SELECT acts, error_kind FROM journal WHERE seq = 8`).Scan(&acts, &kind); err != nil {
		t.Fatal(err)
	}
	var list []Act
	if err := json.Unmarshal([]byte(acts), &list); err != nil || !reflect.DeepEqual(list, actsEntry("").Acts.List()) {
		t.Errorf("acts column %s (%v), want the entry's acts as JSON", acts, err)
	}
	if kind != ErrorWrite {
		t.Errorf("error_kind column %q, want %q", kind, ErrorWrite)
	}
}
