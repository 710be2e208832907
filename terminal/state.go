package terminal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StateFile names the file that keeps one terminal's state for one host,
// dialect, merchant and terminal: a terminal's trace numbers and batch mean
// nothing to another host. The host's address is made safe for a file name.
func StateFile(host, dialect, mid, tid string) string {
	safe := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' {
				return r
			}
			return '_'
		}, s)
	}
	return fmt.Sprintf("%s-%s-%s-%s.json", safe(host), dialect, mid, tid)
}

// LoadState reads a state saved by Save into s; a file that does not exist
// leaves s as it is (a terminal starting afresh).
func LoadState(path string, s *State) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, s); err != nil {
		return fmt.Errorf("terminal state %s: %w (delete it to start afresh)", path, err)
	}
	return nil
}

// Save writes the state to path, whole or not at all: a run stopped while
// saving leaves the state it started with.
func (s State) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a rename, there is nothing to remove
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
