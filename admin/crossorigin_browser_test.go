package admin_test

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// seenCall is a request the admin API was sent, and what it answered.
type seenCall struct {
	method, path            string
	origin, site, mediaType string
	status                  int
}

// statusRecorder keeps the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// evilPage is a page of another site (another port of this machine is
// another origin) that tries, as it loads, every way a page has of changing
// the admin API without being let in: a form posted into a hidden frame, a
// no-cors fetch with a form's body and with none, a no-cors PUT (which the
// browser itself refuses to send) and a cors PUT (which needs a preflight).
// What each fetch came to is left in window.outcome.
var evilPage = template.Must(template.New("evil").Parse(`<!doctype html>
<title>a page the tester happened to open</title>
<iframe name="sink" hidden></iframe>
<form id="wipe" method="POST" action="{{.}}/reset" target="sink"><input name="x" value="1"></form>
<script>
window.outcome = {};
const tries = {
  'no-cors POST /reset, text/plain': () => fetch('{{.}}/reset', {method: 'POST', mode: 'no-cors', body: 'x=1'}),
  'no-cors POST /reset, no body': () => fetch('{{.}}/reset', {method: 'POST', mode: 'no-cors'}),
  'no-cors PUT /scenario': () => fetch('{{.}}/scenario', {method: 'PUT', mode: 'no-cors', body: '{"name": "timeout"}'}),
  'cors PUT /scenario': () => fetch('{{.}}/scenario', {method: 'PUT', body: '{"name": "timeout"}',
    headers: {'Content-Type': 'application/json'}}),
};
for (const [what, attempt] of Object.entries(tries)) {
  attempt().then((r) => { window.outcome[what] = 'answered ' + r.type + ' ' + r.status; },
                 (e) => { window.outcome[what] = 'failed: ' + e.message; });
}
document.getElementById('wipe').submit();
</script>
`))

// TestCrossOriginBrowser: a page from another origin, in a real Chromium,
// cannot change the host through the admin API: the admin sees the form post
// and the fetches the browser sends refused (403), the PUTs never arrive (the
// browser will not send a no-cors PUT, and the API grants no preflight), and
// the journal and the bindings are as they were. The console, which is
// same-origin, changes the host in TestConsoleBrowser.
func TestCrossOriginBrowser(t *testing.T) {
	ctx, problems := browserTab(t)
	seen := make(chan seenCall, 64)
	g := newGuardedWrapped(t, nil, func(api http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			api.ServeHTTP(rec, r)
			seen <- seenCall{r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Content-Type"), rec.status}
		})
	})
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		evilPage.Execute(w, g.srv.URL)
	}))
	t.Cleanup(evil.Close)

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(evil.URL+"/")); err != nil {
		t.Fatalf("opening the other site's page: %v", err)
	}

	// Every request the browser sends the admin API is answered before it is
	// reported; the page's fetches settle once theirs are.
	const tries = 4
	if err := chromedp.Do(ctx, chromedp.PollFunction[chromedp.Void](
		`(n) => Object.keys(window.outcome).length === n`, chromedp.WithPollingArgs(tries),
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("waiting for the page's fetches to settle: %v\npage problems: %q", err, problems())
	}
	outcome, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`window.outcome`))
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range outcome {
		t.Logf("%s: %s", what, got)
	}
	for _, what := range []string{"no-cors PUT /scenario", "cors PUT /scenario"} {
		if got := outcome[what]; len(got) < 6 || got[:6] != "failed" {
			t.Errorf("%s: %s, want the browser to have refused it", what, got)
		}
	}

	// The admin API saw the form post, both no-cors posts and the preflight
	// of the cors PUT: the posts refused as another origin's, the preflight
	// not granted.
	want := map[string]int{"form POST /reset": 1, "fetch POST /reset": 2, "OPTIONS /scenario": 1}
	got := map[string]int{}
	for got["form POST /reset"]+got["fetch POST /reset"]+got["OPTIONS /scenario"] < 4 {
		var c seenCall
		select {
		case c = <-seen:
		case <-ctx.Done():
			t.Fatalf("the admin API saw %v of %v before the deadline", got, want)
		}
		t.Logf("the admin API saw %s %s (Origin %q, Sec-Fetch-Site %q, Content-Type %q): %d",
			c.method, c.path, c.origin, c.site, c.mediaType, c.status)
		key := c.method + " " + c.path
		switch {
		case c.method == "POST" && c.mediaType == "application/x-www-form-urlencoded":
			key = "form " + key
		case c.method == "POST":
			key = "fetch " + key
		}
		got[key]++
		if c.status < 300 {
			t.Errorf("%s from the other site: answered %d", key, c.status)
		}
		if c.method == "POST" && (c.status != http.StatusForbidden || c.origin != evil.URL) {
			t.Errorf("%s: status %d with Origin %q, want 403 for Origin %s", key, c.status, c.origin, evil.URL)
		}
		if c.method == "PUT" {
			t.Errorf("a PUT from the other site reached the API: %+v", c)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the admin API saw %v, want %v", got, want)
	}
	g.untouched(t)
}

// TestRebindingBrowser: a name of the attacker's that comes to resolve to
// this machine (DNS rebinding, played here by Chromium's resolver rules)
// makes the API look same-origin to the attacker's page, so the Origin check
// cannot tell; the Host check refuses it, reads and changes alike.
func TestRebindingBrowser(t *testing.T) {
	g := newGuarded(t, nil)
	port := g.srv.Listener.Addr().(*net.TCPAddr).Port
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// attacker.test resolves to the API, and nothing else anywhere.
		chromedp.Flag("host-resolver-rules", "MAP attacker.test 127.0.0.1, EXCLUDE localhost, MAP * ~NOTFOUND"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	page := fmt.Sprintf("http://attacker.test:%d", port)
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"/healthz")); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	// The page is now of the origin the API answers on; its fetches are
	// same-origin, and can read the answers.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Promise.all([
		fetch('/journal').then((r) => 'GET /journal ' + r.status),
		fetch('/reset', {method: 'POST'}).then((r) => 'POST /reset ' + r.status),
		fetch('/scenario', {method: 'PUT', headers: {'Content-Type': 'application/json'}, body: '{"name": "timeout"}'})
			.then((r) => 'PUT /scenario ' + r.status),
	])`, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetching from %s: %v", page, err)
	}
	want := []string{"GET /journal 403", "POST /reset 403", "PUT /scenario 403"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("from the rebound name the API answered %q, want %q", got, want)
	}
	g.untouched(t)
}
