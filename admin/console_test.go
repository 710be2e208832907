package admin_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/journal"
)

// consoleServer serves an API with a journal and a clock, behind token when
// it is not "".
func consoleServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	api := &admin.API{Journal: journal.New(10), Clock: clock.New(time.Time{}), Reset: func() {}, Token: token}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// consoleGet sends GET path with auth as the Authorization header ("" for
// none) and returns the response with its body read.
func consoleGet(t *testing.T, srv *httptest.Server, path, auth string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp, string(b)
}

// TestConsolePage: GET / is the console, with every part the script fills.
func TestConsolePage(t *testing.T) {
	srv := consoleServer(t, "")
	resp, body := consoleGet(t, srv, "/", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/html; charset=utf-8", ct)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer: the page may be opened with ?token=", got)
	}
	for _, want := range []string{
		`<script src="/console/console.js" defer></script>`,
		`<link rel="stylesheet" href="/console/console.css">`,
		// The live table and its columns.
		`id="exchange-rows"`, ">Time<", ">Terminal<", ">Txn<", ">Amount<", ">RC<", ">Latency<", ">Rule<", ">Fault<",
		// One exchange in full.
		`id="detail-fields"`,
		// The scenario in force and the switchers.
		`id="global-current"`, `id="global-scenario"`, `id="global-apply"`,
		`id="terminal-id"`, `id="terminal-scenario"`, `id="terminal-apply"`, `id="terminal-bindings"`,
		// The clock.
		`id="clock-now"`, `id="clock-freeze"`, `id="clock-advance"`, `id="clock-set"`,
		// The open batches.
		`id="batch-rows"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / lacks %s", want)
		}
	}
	// The page is the same at every load: a conditional GET is a 304.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	again, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET / with its ETag: status %d, want 304", again.StatusCode)
	}
}

// TestConsoleAssets: the script and style sheet come with their types, and
// nothing else is served under /console/.
func TestConsoleAssets(t *testing.T) {
	srv := consoleServer(t, "")
	tests := []struct {
		path, status, contentType string
	}{
		{"/console/console.js", "200", "text/javascript; charset=utf-8"},
		{"/console/console.css", "200", "text/css; charset=utf-8"},
		{"/console/index.html", "404", "application/json"},
		{"/console/console.go", "404", "application/json"},
		{"/console/", "404", ""},
		{"/console", "404", ""},
		{"/index.html", "404", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := consoleGet(t, srv, tt.path, "")
			if got := resp.Status[:3]; got != tt.status {
				t.Fatalf("status %s, want %s; body %.200s", resp.Status, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); tt.contentType != "" && ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if tt.status == "200" {
				if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Error("no X-Content-Type-Options: nosniff")
				}
				if len(body) < 100 {
					t.Errorf("body of %d bytes", len(body))
				}
			}
		})
	}
	// Only GET (and HEAD) reach the console.
	resp, err := srv.Client().Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", resp.StatusCode)
	}
}

// TestConsoleSelfContained: the console loads nothing from elsewhere (no CDN,
// no web font), and its script never turns data into markup.
func TestConsoleSelfContained(t *testing.T) {
	srv := consoleServer(t, "")
	external := []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(https?|wss?|ftp):`),                 // an absolute URL
		regexp.MustCompile(`(?i)\b(src|href|action)\s*=\s*["']?//`),    // a scheme-relative one
		regexp.MustCompile(`(?i)url\(\s*["']?(//|[a-z][a-z0-9+.-]*:)`), // one in CSS
		regexp.MustCompile(`(?i)@import`),
		regexp.MustCompile(`(?i)\bintegrity\s*=`), // a sure sign of a CDN
	}
	markup := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	for _, path := range []string{"/", "/console/console.js", "/console/console.css"} {
		_, body := consoleGet(t, srv, path, "")
		for _, re := range external {
			if m := re.FindString(body); m != "" {
				t.Errorf("%s refers elsewhere: %q", path, m)
			}
		}
		if m := markup.FindString(body); m != "" {
			t.Errorf("%s builds markup from strings (%q): use textContent", path, m)
		}
	}
	// Every element of the page is the page's own: no inline script or style
	// (the Content-Security-Policy would refuse them anyway).
	_, page := consoleGet(t, srv, "/", "")
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page has %q", bad)
		}
	}
}

// TestConsoleToken: with a token, the console's files need none (a browser
// cannot send one when it opens a page, and they hold no data); everything
// else still does, and ?access_token= stands in for the header on the live
// stream alone.
func TestConsoleToken(t *testing.T) {
	const token = "s3cret-Token"
	srv := consoleServer(t, token)
	for _, path := range []string{"/", "/console/console.js", "/console/console.css"} {
		if resp, body := consoleGet(t, srv, path, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without the token: status %d, want 200; body %.200s", path, resp.StatusCode, body)
		}
	}
	refused := []struct{ path, auth string }{
		{"/console/nothing.js", ""},
		{"/index.html", ""},
		{"/journal", ""},
		{"/journal?access_token=" + token, ""},
		{"/clock?access_token=" + token, ""},
		{"/journal/stream", ""},
		{"/journal/stream?access_token=wrong", ""},
		{"/journal/stream?access_token=" + token + "x", ""},
		{"/journal/stream?access_token=", ""},
		// A wrong header is not rescued by a right query parameter.
		{"/journal/stream?access_token=" + token, "Bearer wrong"},
	}
	for _, tt := range refused {
		if resp, body := consoleGet(t, srv, tt.path, tt.auth); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s (Authorization %q): status %d, want 401; body %.200s", tt.path, tt.auth, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/reset?access_token="+token, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /reset?access_token=: status %d, want 401", resp.StatusCode)
	}

	for _, tt := range []struct{ name, query, auth string }{
		{"access_token", "?access_token=" + token, ""},
		{"header", "", "Bearer " + token},
	} {
		t.Run("the stream with the token as "+tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/journal/stream"+tt.query, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, Content-Type %q; want 200 and a stream", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
				t.Errorf("first line %q (%v), want the stream's opening comment", line, err)
			}
		})
	}
}
