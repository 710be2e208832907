package terminal_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestStateFile: a saved state reads back as it was; a missing file is a
// fresh terminal; a spoilt one is an error naming the file; saving leaves
// no other file behind; the file name carries no path separators of the
// host's address.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	name := terminal.StateFile("[::1]:5000/x", "cup", "898100012340001", "TERM0001")
	if strings.ContainsAny(name, "/\\:[]") {
		t.Errorf("state file name %q carries characters of the address", name)
	}
	path := filepath.Join(dir, "sub", name)

	var fresh terminal.State
	if err := terminal.LoadState(path, &fresh); err != nil || !reflect.DeepEqual(fresh, terminal.State{}) {
		t.Fatalf("a missing state file: %+v, %v; want a fresh state", fresh, err)
	}
	want := terminal.State{STAN: 42, Batch: "000007", Records: []terminal.Record{
		{Type: txn.Sale, MTI: "0200", Proc: "000000", STAN: "000041", RRN: "000000000041", Auth: "123456", Amount: 1234, Date: "1207", Batch: "000007"},
	}}
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	var got terminal.State
	if err := terminal.LoadState(path, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("saving left %d files, want the state alone", len(entries))
	}

	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := terminal.LoadState(path, &got)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("a spoilt state file: %v; want an error naming %s and how to start afresh", err, path)
	}
}
