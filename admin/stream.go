package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// stream answers GET /journal/stream with server-sent events: one
// "exchange" event a journal entry, as it is appended, that the query's filter
// selects (the same parameters as GET /journal; limit and after aside). A
// comment every 15 s keeps proxies from closing an idle stream.
func (a *API) stream(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported here")
		return
	}
	entries, cancel := a.Journal.Subscribe(1024)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": acqsim journal\n\n")
	flusher.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case e, open := <-entries:
			if !open {
				return
			}
			if !f.Match(&e) {
				continue
			}
			raw, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\nevent: exchange\ndata: %s\n\n", e.Seq, raw)
		}
		flusher.Flush()
	}
}

// DefaultMaxStreams is how many live journal streams may be open at once
// when API.MaxStreams is not set.
const DefaultMaxStreams = 64
