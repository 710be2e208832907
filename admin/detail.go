package admin

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
)

// ExchangeDetail is one exchange in full: the journal's entry, and both its
// messages field by field and as raw bytes, card data masked. Response is
// null when the host built none.
type ExchangeDetail struct {
	Entry    journal.Entry   `json:"entry"`
	Request  *dialect.Detail `json:"request"`
	Response *dialect.Detail `json:"response"`
}

// exchange answers GET /journal/{seq}. The frames live in the journal's
// memory ring only, so an entry that has left it, or that was read back from
// a durable journal's file, or that never had a frame (a connection that
// failed between frames), is not found. The frames are decoded and masked
// here, when someone asks, not on the host's hot path.
func (a *API) exchange(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "seq: want an entry's number")
		return
	}
	e, ok := a.Journal.Get(seq)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no entry %d in memory: it has left the journal's ring, or never was", seq))
		return
	}
	if e.Request == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("entry %d has no frames: none was read, or it was read back from the journal's file", seq))
		return
	}
	d := ExchangeDetail{Entry: e}
	req := a.Describe([]byte(e.Request))
	d.Request = &req
	if e.Response != "" {
		resp := a.Describe([]byte(e.Response))
		d.Response = &resp
	}
	writeJSON(w, http.StatusOK, d)
}
