package admin

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The admin API trusts whoever can reach it: without a token, anything on
// this machine may reset the host. A web page the tester opens is on this
// machine too, and two things would let it in: a request the browser sends
// across sites without asking (a form post, a no-cors fetch), and DNS
// rebinding, where a name the page's own site controls comes to resolve to
// 127.0.0.1 so that the browser takes the API for part of that site. The
// guard shuts both out, as Prometheus, Grafana and Jupyter do:
//
//   - every request's Host must be a name this API answers to (hostAllowed),
//     which a rebound name is not;
//   - a call that changes state must not come from another origin: its Origin,
//     when sent, is this API's own, and its Sec-Fetch-Site, when sent, is
//     same-origin or none (a typed address, a tool);
//   - and it must not carry a body a page can send without asking first: a
//     form's content types are refused, so the API's own types (JSON, YAML)
//     always need a CORS preflight, which the API never grants.
//
// Tools (curl, the CLI, acqsimtest) send neither Origin nor Sec-Fetch-Site,
// and name a loopback address or the listen address, so they pass.

// hostGuard answers 403 to a request whose Host header is not a name this API
// answers to, whatever its method; the token, the routes and the handlers
// see only the requests that pass.
func (a *API) hostGuard(next http.Handler) http.Handler {
	extra := parseAllowHosts(a.AllowHosts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r, extra) {
			writeError(w, http.StatusForbidden, fmt.Sprintf(
				"Host %.100q is not a name this admin API answers to (a guard against DNS rebinding): "+
					"start the host with --admin-allow-host %s to allow it", r.Host, hostOnly(r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin wraps a handler that changes state: it answers 403 to a call
// another origin made, and 415 to a body in a type a web page can send
// across sites without a preflight.
func sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if reason := crossOrigin(r); reason != "" {
			writeError(w, http.StatusForbidden, reason+": the admin API takes calls that change the host only from "+
				"its own console or from tools, never from another site's page")
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" && formType(ct) {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
				"Content-Type %.100q is a web form's, which any page can send here: "+
					"send application/json (or application/yaml for a scenario), or no body at all", ct))
			return
		}
		next(w, r)
	}
}

// notFromAnotherSite wraps a read that holds something of the host's while
// it lasts (a live stream takes one of the capped slots): another site's
// page cannot read its answer, but it could still take every slot, so such
// a call from another origin is refused as a state change is.
func notFromAnotherSite(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if reason := crossOrigin(r); reason != "" {
			writeError(w, http.StatusForbidden, reason+": the live stream is for the host's own console and for tools")
			return
		}
		next(w, r)
	}
}

// crossOrigin says why r came from another origin, or "" when it did not.
// A same-origin fetch from the console carries Origin (its scheme, the Host
// it was loaded from) and Sec-Fetch-Site: same-origin; a tool sends neither.
func crossOrigin(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Sprintf("Sec-Fetch-Site %.40q", site)
	}
	origin, sent := r.Header["Origin"]
	if !sent {
		return ""
	}
	if len(origin) != 1 || !originIsHost(origin[0], r.Host) {
		return fmt.Sprintf("Origin %.100q is not this admin API (%s)", strings.Join(origin, ", "), r.Host)
	}
	return ""
}

// originIsHost reports whether an Origin header names the Host the request
// was sent to. "null" (a sandboxed frame, a file: page, a redirect from
// elsewhere) never does. The scheme may be http or https, so that a proxy
// terminating TLS in front of the API still works: no other site can serve a
// page from this API's own host and port, whatever the scheme.
func originIsHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	oh, op := splitHost(u.Host)
	hh, hp := splitHost(host)
	defaultPort := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if op == "" {
		op = defaultPort
	}
	if hp == "" {
		hp = defaultPort
	}
	return oh != "" && oh == hh && op == hp
}

// formType reports the content types a page may send with a form, or a
// fetch without a preflight: the CORS-safelisted ones. Only the media type
// counts, as a browser reads it (parameters, case and spaces aside).
func formType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// allowedHost is one --admin-allow-host entry: a name, any port; or
// name:port, that port only.
type allowedHost struct{ host, port string }

func parseAllowHosts(entries []string) []allowedHost {
	var out []allowedHost
	for _, e := range entries {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		h, p := splitHost(e)
		out = append(out, allowedHost{h, p})
	}
	return out
}

// hostAllowed reports whether r's Host header names this API:
//
//   - a loopback name: localhost, any name under .localhost (browsers
//     resolve those themselves, never through DNS), 127.0.0.0/8 or [::1],
//     with any port;
//   - the host of the address the API listens on (Addr), with any port, and
//     the IP address the connection came in on;
//   - an IP address of any kind when the API listens on all addresses
//     (0.0.0.0 or [::], which needs a token): an address typed as digits
//     involves no DNS, so it cannot be rebound, and behind a container's port
//     mapping the address a user types is not the one the API sees;
//   - a name given with --admin-allow-host (AllowHosts).
//
// Any other name, even one that resolves here, must be allowed by name. A
// request with no Host at all (HTTP/1.0) comes from no browser and passes.
func (a *API) hostAllowed(r *http.Request, extra []allowedHost) bool {
	if r.Host == "" {
		return true
	}
	host, port := splitHost(r.Host)
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	isIP := err == nil
	if isIP && ip.Unmap().IsLoopback() {
		return true
	}
	if a.Addr != "" {
		lh, _ := splitHost(a.Addr)
		if lh == host || isIP && listensEverywhere(lh) {
			return true
		}
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isIP {
		if ch, _ := splitHost(la.String()); ch == host {
			return true
		}
	}
	for _, e := range extra {
		if e.host == host && (e.port == "" || e.port == port) {
			return true
		}
	}
	return false
}

// listensEverywhere reports the host of an address that listens on every
// interface: none (":8584"), 0.0.0.0 or [::].
func listensEverywhere(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}

// splitHost splits a Host header (or an address, or an allow-host entry)
// into its host, in lower case without brackets or a trailing dot, each
// address spelt one way, and its port ("" when there is none).
func splitHost(hostport string) (host, port string) {
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.String() // one spelling of each address: [::1] and [0:0::1] alike
	}
	return host, port
}

// hostOnly is a Host header's host, for the advice to allow it.
func hostOnly(hostport string) string {
	h, _ := splitHost(hostport)
	switch {
	case len(h) > 100:
		return "NAME"
	case strings.Contains(h, ":"):
		return "'[" + h + "]'"
	}
	return h
}
