package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is what `acqsim version` and `acqsim --version` print: the module
// version the binary was built from and the Go that built it.
func version() string {
	info, ok := debug.ReadBuildInfo()
	return versionOf(info, ok)
}

// versionOf reads the version from build information: a module version
// ("v1.2.0", or a pseudo-version from the clone's commit) when the go
// command stamped one, "devel" otherwise (go run, tests, -buildvcs=false).
func versionOf(info *debug.BuildInfo, ok bool) string {
	v, goVersion := "devel", runtime.Version()
	if ok && info != nil {
		if info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
	}
	return fmt.Sprintf("acqsim %s (%s %s/%s)", v, goVersion, runtime.GOOS, runtime.GOARCH)
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print acqsim's version and the Go version it was built with",
		Args:  nArgs(0, "version takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version())
			return err
		},
	}
}
