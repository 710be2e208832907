package main

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	line := regexp.MustCompile(`^acqsim (devel|v\S+) \(go\S+ \S+/\S+\)\n$`)
	code, version, stderr := acqsim("version")
	if code != 0 || !line.MatchString(version) {
		t.Fatalf("version: exit %d, %q (%s); want acqsim VERSION (GO OS/ARCH)", code, version, stderr)
	}
	if code, stdout, stderr := acqsim("--version"); code != 0 || stdout != version {
		t.Errorf("--version: exit %d, %q (%s); want what version prints, %q", code, stdout, stderr, version)
	}
	if code, _, _ := acqsim("version", "now"); code != 2 {
		t.Errorf("version now: exit %d, want 2", code)
	}
	// -v is send's verbose, not the root's version.
	if code, _, _ := acqsim("-v"); code != 2 {
		t.Errorf("-v: exit %d, want 2 (unknown flag)", code)
	}
}

func TestVersionOf(t *testing.T) {
	plat := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build information", nil, false, "acqsim devel (" + runtime.Version() + " " + plat + ")"},
		{"go run or a test", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, "acqsim devel (go1.26.8 " + plat + ")"},
		{"no version stamped", &debug.BuildInfo{GoVersion: "go1.26.8"}, true, "acqsim devel (go1.26.8 " + plat + ")"},
		{"go install @v1.2.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, true, "acqsim v1.2.0 (go1.26.8 " + plat + ")"},
		{"a clone's commit", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260611120000-abcdef123456+dirty"}}, true,
			"acqsim v0.0.0-20260611120000-abcdef123456+dirty (go1.26.8 " + plat + ")"},
	} {
		if got := versionOf(tc.info, tc.ok); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
