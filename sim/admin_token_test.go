package sim_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/sim"
)

// TestAdminTokenOffLoopback: an admin API reachable from other hosts refuses
// to start without a token, and gives back the addresses it took; with a
// token it starts and wants it.
func TestAdminTokenOffLoopback(t *testing.T) {
	// A fixed terminal port: the refused start must let it go again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()

	onListen := acqsimtest.Configure(func(c *sim.Config) { c.Listen = listen })
	for _, admin := range []string{"0.0.0.0:0", ":0"} {
		h, err := acqsimtest.Start(onListen, acqsimtest.Admin(admin))
		if !errors.Is(err, sim.ErrAdminToken) {
			if h != nil {
				h.Close()
			}
			t.Fatalf("admin %s without a token: err %v, want ErrAdminToken", admin, err)
		}
	}

	h := acqsimtest.New(t, acqsimtest.Admin("0.0.0.0:0"), acqsimtest.AdminToken("tok"))
	_, port, err := net.SplitHostPort(h.Sim().AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer tok", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /healthz with %q: status %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}

	// The refused starts released the terminal port.
	again, err := acqsimtest.Start(onListen)
	if err != nil {
		t.Fatalf("starting on %s after the refused starts: %v", listen, err)
	}
	if err := again.Close(); err != nil {
		t.Error(err)
	}
}

// TestAdminTokenBlank: a token that could never match (blank, spaces at an
// end, a control character) is refused at start as a configuration mistake,
// naming what is wrong, and the listeners are released.
func TestAdminTokenBlank(t *testing.T) {
	for _, tok := range []string{" ", "   ", " tok", "tok ", "to\tk", "tok\n"} {
		h, err := acqsimtest.Start(acqsimtest.AdminToken(tok))
		if h != nil {
			h.Close()
		}
		if !errors.As(err, new(sim.ConfigError)) || !strings.Contains(err.Error(), "admin token") {
			t.Errorf("token %q: err %v, want a ConfigError about the admin token", tok, err)
		}
	}
	h := acqsimtest.New(t, acqsimtest.AdminToken("a token with spaces inside"))
	if h.AdminURL() == "" {
		t.Fatal("no admin API")
	}
}
