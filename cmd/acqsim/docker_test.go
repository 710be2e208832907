package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/scenarios"
)

// No Docker engine runs where the tests do: these tests hold docker/ to what
// acqsim accepts instead. The image's default command and the compose
// service's command parse as `acqsim serve` flags (with the compose file's
// configuration file), start a host (on loopback, free ports) without an
// admin token, and keep the token rule: an admin API on the container's
// network only with a token.

const dockerDir = "../../docker"

// dockerfileArgs returns the JSON form of a Dockerfile instruction.
func dockerfileArgs(t *testing.T, dockerfile, instruction string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + instruction + `\s+(\[.*\])\s*$`).FindStringSubmatch(dockerfile)
	if m == nil {
		t.Fatalf("docker/Dockerfile: no %s in JSON form", instruction)
	}
	var args []string
	if err := json.Unmarshal([]byte(m[1]), &args); err != nil {
		t.Fatalf("docker/Dockerfile: %s: %v", instruction, err)
	}
	return args
}

// serveFlagsOf parses args (from "serve" on) as `acqsim serve` does,
// configuration file included, and returns the flags' values. files maps
// paths inside the container to files here.
func serveFlagsOf(t *testing.T, where string, args []string, files map[string]string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s: command %q is not acqsim serve", where, args)
	}
	cmd := newServe()
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatalf("%s: %q: %v", where, args, err)
	}
	if rest := cmd.Flags().Args(); len(rest) > 0 {
		t.Fatalf("%s: serve takes no arguments, given %q", where, rest)
	}
	if fg := cmd.Flags().Lookup("config"); fg.Value.String() != "" {
		local, ok := files[fg.Value.String()]
		if !ok {
			t.Fatalf("%s: --config %s is no file mounted into the container", where, fg.Value)
		}
		if err := applyConfigFile(cmd.Flags(), local); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
	}
	vals := map[string]string{}
	for _, name := range []string{"listen", "admin", "admin-token", "scenario", "grace"} {
		vals[name] = cmd.Flags().Lookup(name).Value.String()
	}
	return vals
}

// localArgs rewrites a container's serve command for this machine: each path
// mounted into the container is the file here, and the host listens on
// loopback on free ports (given last, so they win over the command's own and
// over its configuration file's).
func localArgs(args []string, files map[string]string) []string {
	out := make([]string, 0, len(args)+6)
	for _, a := range args {
		if local, ok := files[a]; ok {
			a = local
		}
		out = append(out, a)
	}
	return append(out, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "error")
}

// startsWithoutToken runs args in-process with no admin token in the
// environment and wants the listening line, then a clean stop.
func startsWithoutToken(t *testing.T, where string, args []string) {
	t.Helper()
	t.Setenv("ACQSIM_ADMIN_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, args, pw, &stderr)
		pw.Close()
	}()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if !strings.Contains(line, "acqsim listening") {
		t.Errorf("%s: acqsim %s did not start: exit %d: %s", where, strings.Join(args, " "), <-code, stderr.String())
		return
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("%s: acqsim %s exited %d after SIGINT: %s", where, strings.Join(args, " "), c, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: serve did not stop within 15 s", where)
	}
}

func isLoopback(t *testing.T, where, addr string) bool {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: address %q: %v", where, addr, err)
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func port(t *testing.T, where, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: address %q: %v", where, addr, err)
	}
	return p
}

// TestDockerfile: the image's default command is a host that terminals reach
// from outside the container and that starts without an admin token.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(dockerDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	entry := dockerfileArgs(t, df, "ENTRYPOINT")
	if !regexp.MustCompile(`(?m)^COPY --from=build \S+ ` + regexp.QuoteMeta(entry[0]) + `$`).MatchString(df) {
		t.Errorf("docker/Dockerfile: ENTRYPOINT %s is not where the binary is copied to", entry[0])
	}
	cmd := dockerfileArgs(t, df, "CMD")
	args := append(entry[1:], cmd...)
	vals := serveFlagsOf(t, "docker/Dockerfile CMD", args, nil)
	var exposed []string
	for _, m := range regexp.MustCompile(`(?m)^EXPOSE\s+(.+)$`).FindAllStringSubmatch(df, -1) {
		exposed = append(exposed, strings.Fields(m[1])...)
	}
	if isLoopback(t, "--listen", vals["listen"]) {
		t.Errorf("docker/Dockerfile CMD: --listen %s: terminals outside the container cannot reach it", vals["listen"])
	}
	if p := port(t, "--listen", vals["listen"]); !slices.Contains(exposed, p) {
		t.Errorf("docker/Dockerfile: terminals' port %s is not in EXPOSE %v", p, exposed)
	}
	if !isLoopback(t, "--admin", vals["admin"]) && vals["admin-token"] == "" {
		t.Errorf("docker/Dockerfile CMD: --admin %s off loopback needs a token: the image would exit 2 without one", vals["admin"])
	}
	startsWithoutToken(t, "docker/Dockerfile CMD", localArgs(args, nil))
}

// composeVar is a variable reference in a compose file: ${NAME}, ${NAME:-default},
// ${NAME-default}, ${NAME:?error}, ${NAME:+alternative}...
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}`)

// interpolate expands the variables of s from env as compose does; a
// variable compose requires (:? or ?) is an error when unset.
func interpolate(t *testing.T, s string, env map[string]string) string {
	t.Helper()
	return composeVar.ReplaceAllStringFunc(s, func(ref string) string {
		m := composeVar.FindStringSubmatch(ref)
		v, set := env[m[1]]
		nonEmpty := set && v != ""
		switch m[2] {
		case ":-":
			if !nonEmpty {
				return m[3]
			}
		case "-":
			if !set {
				return m[3]
			}
		case ":?", "?":
			if (m[2] == ":?" && !nonEmpty) || !set {
				t.Errorf("docker/compose.yaml: %s is required (%s): `docker compose up` fails without it", m[1], m[3])
			}
		case ":+":
			if nonEmpty {
				return m[3]
			}
			return ""
		case "+":
			if set {
				return m[3]
			}
			return ""
		}
		return v
	})
}

type composeFile struct {
	Services map[string]struct {
		Build struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		// StopGracePeriod is how long docker waits after SIGTERM before
		// SIGKILL: it must leave serve its --grace to drain.
		StopGracePeriod string `yaml:"stop_grace_period"`
	} `yaml:"services"`
}

// TestCompose: `docker compose up` needs no variable set and starts a host
// whose terminals' port is published and whose admin API needs no token;
// with ACQSIM_ADMIN and a token the admin API is published, never without
// one. The files it mounts exist, and the scenarios among them load.
func TestCompose(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(dockerDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("docker/compose.yaml: %v", err)
	}
	svc, ok := cf.Services["acqsim"]
	if !ok {
		t.Fatal("docker/compose.yaml: no service acqsim")
	}
	// Paths in a compose file are relative to its directory.
	if _, err := os.Stat(filepath.Join(dockerDir, svc.Build.Context, svc.Build.Dockerfile)); err != nil {
		t.Errorf("docker/compose.yaml: build: %v", err)
	}
	files := map[string]string{}
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Fatalf("docker/compose.yaml: volume %q: want HOST:CONTAINER[:ro]", v)
		}
		local := filepath.Join(dockerDir, parts[0])
		info, err := os.Stat(local)
		if err != nil {
			t.Errorf("docker/compose.yaml: volume %s: %v", v, err)
			continue
		}
		if !info.IsDir() {
			files[parts[1]] = local
			continue
		}
		// A directory mounted into the container is one of scenario files.
		yamls, _ := filepath.Glob(filepath.Join(local, "*.yaml"))
		entries, _ := os.ReadDir(local)
		if len(yamls) == 0 || len(yamls) != len(entries) {
			t.Errorf("docker/compose.yaml: volume %s: want a directory of scenario files (*.yaml), it has %d entries, %d of them .yaml", v, len(entries), len(yamls))
		}
		for _, y := range yamls {
			if _, err := scenarios.LoadFile(y); err != nil {
				t.Errorf("docker/compose.yaml: volume %s: %v", v, err)
			}
			files[parts[1]+"/"+filepath.Base(y)] = y
		}
	}
	published := map[string]bool{}
	for _, p := range svc.Ports {
		parts := strings.Split(p, ":")
		if len(parts) != 3 || !isLoopback(t, "ports", parts[0]+":"+parts[1]) {
			t.Errorf("docker/compose.yaml: port %q: publish on this machine's loopback only (127.0.0.1:HOST:CONTAINER)", p)
			continue
		}
		published[parts[2]] = true
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"no variables", map[string]string{}},
		{"admin published", map[string]string{"ACQSIM_ADMIN": "0.0.0.0:8584", "ACQSIM_ADMIN_TOKEN": "secret"}},
		{"admin published without a token", map[string]string{"ACQSIM_ADMIN": "0.0.0.0:8584"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := make([]string, len(svc.Command))
			for i, a := range svc.Command {
				args[i] = interpolate(t, a, tc.env)
			}
			token := interpolate(t, svc.Environment["ACQSIM_ADMIN_TOKEN"], tc.env)
			vals := serveFlagsOf(t, "docker/compose.yaml command", args, files)
			stop, err := time.ParseDuration(svc.StopGracePeriod)
			if grace, _ := time.ParseDuration(vals["grace"]); err != nil || stop <= grace {
				t.Errorf("docker/compose.yaml: stop_grace_period %q: want longer than serve's --grace %s", svc.StopGracePeriod, grace)
			}
			if isLoopback(t, "--listen", vals["listen"]) || !published[port(t, "--listen", vals["listen"])] {
				t.Errorf("docker/compose.yaml: terminals' address %s is not published", vals["listen"])
			}
			adminOut := !isLoopback(t, "--admin", vals["admin"])
			switch {
			case len(tc.env) == 0 && adminOut:
				t.Errorf("docker/compose.yaml: with no variables set, --admin %s is off loopback: serve refuses to start without a token", vals["admin"])
			case tc.env["ACQSIM_ADMIN"] != "" && (!adminOut || !published[port(t, "--admin", vals["admin"])]):
				t.Errorf("docker/compose.yaml: ACQSIM_ADMIN=%s does not publish the admin API (--admin %s)", tc.env["ACQSIM_ADMIN"], vals["admin"])
			}
			if adminOut && token != tc.env["ACQSIM_ADMIN_TOKEN"] {
				t.Errorf("docker/compose.yaml: ACQSIM_ADMIN_TOKEN=%q reaches the container as %q", tc.env["ACQSIM_ADMIN_TOKEN"], token)
			}
			// The third case serve refuses (exit 2, sim.ErrAdminToken), as the
			// README says: the check above holds that compose gives no token of
			// its own. The first must start as it is.
			if len(tc.env) == 0 {
				startsWithoutToken(t, "docker/compose.yaml command", localArgs(args, files))
			}
		})
	}
}
