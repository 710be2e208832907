package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// stream answers GET /journal/stream with server-sent events: one
// "exchange" event a journal entry, as it is appended, that the query's filter
// selects (the same parameters as GET /journal; limit and after aside). A
// comment every 15 s keeps proxies from closing an idle stream.
//
// A stream costs the host: the journal hands every entry to it as it is
// appended. So at most MaxStreams are open (one more is a 503), and a reader
// that falls streamBuffer exchanges behind is dropped, rather than held
// entries for: its last event is a "dropped" one whose data gives the reason
// and last_seq, the last exchange it was sent (or the journal's last entry
// when it began), so that GET /journal?after=last_seq with the same filter
// reads what it missed.
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
	most := a.MaxStreams
	if most <= 0 {
		most = DefaultMaxStreams
	}
	// The journal counts the feeds: the host's only ones are these streams.
	feed, err := a.Journal.Follow(f, streamBuffer, most)
	if errors.Is(err, journal.ErrTooManyFeeds) {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(
			"%d live streams are open, the most this host allows (--admin-max-streams): close one and try again", most))
		return
	}
	defer feed.Close()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": acqsim journal\n\n")
	flusher.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	last := feed.Since()
	for {
		// A reader that takes nothing for this long is gone: its write
		// fails, rather than holding the stream open for ever.
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case e, open := <-feed.Entries():
			if !open {
				if feed.Dropped() {
					raw, _ := json.Marshal(Dropped{
						Reason:  fmt.Sprintf("the stream fell %d exchanges behind; read the rest with GET /journal?after=%d", streamBuffer, last),
						LastSeq: last,
					})
					fmt.Fprintf(w, "event: dropped\ndata: %s\n\n", raw)
					flusher.Flush()
				}
				return
			}
			raw, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\nevent: exchange\ndata: %s\n\n", e.Seq, raw)
			last = e.Seq
		}
		if rc.Flush() != nil {
			return // the reader is gone
		}
	}
}

// Dropped is the data of a stream's last event ("dropped") when the host
// dropped it: read the rest with GET /journal?after=LastSeq.
type Dropped struct {
	Reason  string `json:"reason"`
	LastSeq uint64 `json:"last_seq"`
}

// DefaultMaxStreams is how many live journal streams may be open at once
// when API.MaxStreams is not set.
const DefaultMaxStreams = 64

// streamBuffer is how many exchanges a stream's reader may fall behind by
// before the host drops it. The buffer holds pointers to entries the
// streams share: it costs 8 KiB a stream until a reader falls behind.
const streamBuffer = 1024

// streamWriteTimeout bounds each write to a stream.
const streamWriteTimeout = 30 * time.Second
