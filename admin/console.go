package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// consoleFiles are the live web console: one page, one script, one style
// sheet, written by hand and served from the binary, so there is no build
// step and nothing to fetch from elsewhere. The page works through the API
// itself.
//
//go:embed console
var consoleFiles embed.FS

// consoleAssets are the files served under /console/, with their types;
// nothing else in the directory is.
var consoleAssets = map[string]string{
	"console.js":  "text/javascript; charset=utf-8",
	"console.css": "text/css; charset=utf-8",
}

// consoleCSP lets the page run only its own script and style and talk only to
// this API, so that a field of an exchange could never become markup or a
// request elsewhere even if the script slipped.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// console answers GET / with the console's page.
func (a *API) console(w http.ResponseWriter, r *http.Request) {
	serveConsoleFile(w, r, "index.html", "text/html; charset=utf-8")
}

// consoleAsset answers GET /console/{file}: the console's script and style.
func (a *API) consoleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ct, ok := consoleAssets[name]
	if !ok {
		writeError(w, http.StatusNotFound, "no console file named "+name)
		return
	}
	serveConsoleFile(w, r, name, ct)
}

func serveConsoleFile(w http.ResponseWriter, r *http.Request, name, contentType string) {
	b, err := consoleFiles.ReadFile("console/" + name)
	if err != nil { // embedded at build time: cannot happen
		writeError(w, http.StatusInternalServerError, "reading console/"+name+": "+err.Error())
		return
	}
	sum := sha256.Sum256(b)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// The page may be opened with ?token=; keep it out of Referer headers.
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidated on every load (a 304 when unchanged), so an upgraded host
	// never serves last version's script to this version's page.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// consoleRequest reports whether r asks for one of the console's own files.
// They hold no data, and a browser opening the page cannot send a token, so
// they are served without one; the page then sends the token on every call.
func consoleRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.URL.Path == "/" {
		return true
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/console/")
	_, known := consoleAssets[name]
	return ok && known
}

// credentials is what r offers for the token check: its Authorization header
// or, for GET /journal/stream alone, ?access_token=, because a browser's
// EventSource cannot set headers.
func credentials(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		return h
	}
	if r.Method == http.MethodGet && r.URL.Path == "/journal/stream" {
		if t := r.URL.Query().Get("access_token"); t != "" {
			return "Bearer " + t
		}
	}
	return ""
}
