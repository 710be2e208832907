package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/internal/testcert"
)

// TestServeAndSendOverTLS: serve over TLS with client certificates, and send
// with each way of trusting the host.
func TestServeAndSendOverTLS(t *testing.T) {
	ca := testcert.NewCA(t, "acquirer")
	terminals := testcert.NewCA(t, "terminals")
	host := ca.Server("host")
	client := terminals.Client("TERM0001")

	line, iso, _, stop := serveWithLine(t, "--tls-cert", host.CertFile, "--tls-key", host.KeyFile,
		"--tls-client-ca", terminals.File, "--admin", "off")
	if !strings.HasSuffix(line, " scenario=none tls=on\n") {
		t.Errorf("listening line %q does not end in tls=on", line)
	}
	send := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		all := append([]string{"send", "sale", "--host", iso, "--state-dir", "", "--timeout", "5s"}, args...)
		code := run(context.Background(), all, &out, &errb)
		return code, out.String() + errb.String()
	}
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"trusting the host's CA", []string{"--tls", "--tls-ca", ca.File, "--tls-cert", client.CertFile, "--tls-key", client.KeyFile}, true},
		{"without verifying the host", []string{"--tls-insecure", "--tls-cert", client.CertFile, "--tls-key", client.KeyFile}, true},
		{"without a client certificate", []string{"--tls", "--tls-ca", ca.File}, false},
		{"with the system's roots", []string{"--tls", "--tls-cert", client.CertFile, "--tls-key", client.KeyFile}, false},
		{"in plain TCP", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := send(tc.args...)
			switch {
			case tc.ok && (code != 0 || !strings.Contains(out, "RC 00")):
				t.Errorf("exit %d, want an approved sale:\n%s", code, out)
			case !tc.ok && code != 1:
				t.Errorf("exit %d, want 1 (refused):\n%s", code, out)
			}
		})
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}
