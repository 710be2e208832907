package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/report"
)

// Client calls a running host's admin API: what acqsim's commands,
// acqsimtest and the tests drive a host with. Its answers are the types the
// API answers with, so that the two cannot disagree. The zero value is not
// usable: Base is needed. A Client is safe for concurrent use.
//
// The methods whose answers a caller may print as they came also return
// the body (raw), since a decoded answer written out again need not be
// byte for byte what the host said.
type Client struct {
	// Base is the API's URL, scheme://host:port, without a trailing slash.
	Base string
	// Token, when set, is sent on every call as "Authorization: Bearer TOKEN".
	Token string
	// HTTP sends the calls; nil means http.DefaultClient.
	HTTP *http.Client
}

// CallTimeout bounds one call (one page of the journal); a live stream has
// none but its context.
const CallTimeout = 30 * time.Second

// HostError is an answer other than 200: the status, and the host's reason
// (Answer.Error), with a scenario's problems when it did not load. An
// answer that is not an ErrorAnswer (from a proxy, say) is given as its
// text, on one line, cut at 200 bytes.
type HostError struct {
	// Status is the status line's text, "404 Not Found".
	Status string
	// Code is the status code.
	Code   int
	Answer ErrorAnswer
}

func (e *HostError) Error() string {
	msg := "the host answered " + e.Status
	if e.Answer.Error != "" {
		msg += ": " + e.Answer.Error
	}
	return msg
}

// BaseError is a call that could not be made because Base is no URL.
type BaseError struct {
	Base string
	Err  error
}

func (e *BaseError) Error() string { return fmt.Sprintf("admin API %q: %v", e.Base, e.Err) }
func (e *BaseError) Unwrap() error { return e.Err }

// open sends a call and returns the response to a 200; anything else is a
// *HostError.
func (c *Client) open(ctx context.Context, method, path string, q url.Values, body []byte, contentType string) (*http.Response, error) {
	u := c.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &BaseError{c.Base, err}
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking the host: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &HostError{Status: resp.Status, Code: resp.StatusCode}
	if json.Unmarshal(raw, &e.Answer) != nil || e.Answer.Error == "" {
		reason := strings.Join(strings.Fields(string(raw)), " ")
		if len(reason) > 200 {
			reason = reason[:200] + "..."
		}
		e.Answer = ErrorAnswer{Error: reason}
	}
	return nil, e
}

// call sends a call and returns the body of the 200 answer and its Link
// header.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body []byte, contentType string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	resp, err := c.open(ctx, method, path, q, body, contentType)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("reading the host's answer: %w", err)
	}
	return raw, resp.Header.Get("Link"), nil
}

// do sends a call and decodes the JSON answer into v; it returns the body
// as it came.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, contentType string, v any) ([]byte, error) {
	raw, _, err := c.call(ctx, method, path, q, body, contentType)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("the host's answer to %s %s does not parse: %w", method, path, err)
	}
	return raw, nil
}

// putJSON PUTs v as JSON and decodes the answer into out.
func (c *Client) putJSON(ctx context.Context, path string, v, out any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodPut, path, nil, body, "application/json", out)
}

// --- the journal ---

// Page is one page of GET /journal.
type Page struct {
	Entries []journal.Entry
	// Raw is the page's body as it came.
	Raw []byte
	// Next is the path and query of the next page ("" on the last): the
	// Link header's rel="next".
	Next string
}

// linkNext finds the target of a Link header's rel="next" (RFC 8288).
var linkNext = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// JournalPage reads the page of the journal f selects: with f.Limit alone
// the latest f.Limit entries, with f.Paged the first f.Limit after f.After,
// otherwise the first page from the oldest entry held (DefaultJournalLimit
// entries when f.Limit is 0).
func (c *Client) JournalPage(ctx context.Context, f journal.Filter) (Page, error) {
	return c.page(ctx, "/journal", FilterQuery(f))
}

func (c *Client) page(ctx context.Context, path string, q url.Values) (Page, error) {
	raw, link, err := c.call(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return Page{}, err
	}
	p := Page{Raw: raw}
	if err := json.Unmarshal(raw, &p.Entries); err != nil {
		return Page{}, fmt.Errorf("the host's answer to GET %s does not parse: %w", path, err)
	}
	if m := linkNext.FindStringSubmatch(link); m != nil {
		p.Next = m[1]
	}
	return p, nil
}

// JournalPages reads the page f selects, as JournalPage does, and the pages
// after it, following each page's next until one has none, and hands each
// to fn as it comes. Every entry f selects then comes once.
func (c *Client) JournalPages(ctx context.Context, f journal.Filter, fn func(Page) error) error {
	base, err := url.Parse(c.Base + "/")
	if err != nil {
		return &BaseError{c.Base, err}
	}
	path, q := "/journal", FilterQuery(f)
	for {
		p, err := c.page(ctx, path, q)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		next, err := base.Parse(p.Next)
		if err != nil {
			return fmt.Errorf("the host's next page %q: %v", p.Next, err)
		}
		// A cursor that does not move on would page for ever.
		if next.Path == path && next.Query().Encode() == q.Encode() {
			return fmt.Errorf("the host's next page %q is the page just read: its pages do not end", p.Next)
		}
		path, q = next.Path, next.Query()
	}
}

// Journal reads every entry f selects, following the pages.
func (c *Client) Journal(ctx context.Context, f journal.Filter) ([]journal.Entry, error) {
	var all []journal.Entry
	err := c.JournalPages(ctx, f, func(p Page) error {
		all = append(all, p.Entries...)
		return nil
	})
	return all, err
}

// Stream is GET /journal/stream: the exchanges a filter selects, as the
// host journals them. Its reader closes it.
type Stream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Event is one server-sent event of a Stream.
type Event struct {
	// Name is the event's name: "exchange" or "dropped".
	Name string
	// Data is the event's data as it came.
	Data []byte
	// Entry is an exchange event's entry.
	Entry *journal.Entry
	// Dropped is a dropped event's data: the host dropped the stream, and
	// this is the last event.
	Dropped *Dropped
}

// Follow opens a stream of the exchanges f selects (f.Limit and f.After
// aside). What the host journals from then on, the stream gives; read what
// came before with the journal's pages. Follow returns once the host has
// taken the stream, so that nothing journalled afterwards is missed.
func (c *Client) Follow(ctx context.Context, f journal.Filter) (*Stream, error) {
	q := FilterQuery(f)
	q.Del("limit")
	q.Del("after")
	resp, err := c.open(ctx, http.MethodGet, "/journal/stream", q, nil, "")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	return &Stream{body: resp.Body, sc: sc}, nil
}

// Next returns the stream's next event, waiting for it; io.EOF when the host
// ended the stream (it shut down, or dropped the stream after its dropped
// event). Comments (the greeting, keep-alives) are passed over.
func (s *Stream) Next() (Event, error) {
	var ev Event
	for s.sc.Scan() {
		line := s.sc.Bytes()
		switch {
		case len(line) == 0:
			if ev.Data == nil {
				ev = Event{}
				continue
			}
			if ev.Name == "" {
				ev.Name = "message"
			}
			return ev, ev.decode()
		case line[0] == ':': // a comment
		default:
			name, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(name) {
			case "event":
				ev.Name = string(value)
			case "data":
				if ev.Data != nil {
					ev.Data = append(ev.Data, '\n')
				} else {
					ev.Data = []byte{} // data, even empty, makes an event
				}
				ev.Data = append(ev.Data, value...)
			}
		}
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}

func (ev *Event) decode() error {
	switch ev.Name {
	case "exchange":
		ev.Entry = new(journal.Entry)
		if err := json.Unmarshal(ev.Data, ev.Entry); err != nil {
			return fmt.Errorf("the host streamed an exchange that does not parse: %w", err)
		}
	case "dropped":
		ev.Dropped = new(Dropped)
		if err := json.Unmarshal(ev.Data, ev.Dropped); err != nil {
			return fmt.Errorf("the host's dropped event does not parse: %w", err)
		}
	}
	return nil
}

// Close ends the stream.
func (s *Stream) Close() error { return s.body.Close() }

// Exchange reads GET /journal/{seq}: one exchange in full, its messages
// field by field, card data masked.
func (c *Client) Exchange(ctx context.Context, seq uint64) (ExchangeDetail, error) {
	var d ExchangeDetail
	_, err := c.do(ctx, http.MethodGet, "/journal/"+strconv.FormatUint(seq, 10), nil, nil, "", &d)
	return d, err
}

// --- verify ---

// Verify asks GET /verify how many exchanges f selects, checked against
// want, and returns the answer and its body.
func (c *Client) Verify(ctx context.Context, f journal.Filter, want Want) (Verified, []byte, error) {
	q := FilterQuery(f)
	for name, n := range map[string]*int{"count": want.Count, "min": want.Min, "max": want.Max} {
		if n != nil {
			q.Set(name, strconv.Itoa(*n))
		}
	}
	var v Verified
	raw, err := c.do(ctx, http.MethodGet, "/verify", q, nil, "", &v)
	return v, raw, err
}

// VerifySequence asks GET /verify/sequence whether terminal tid's first
// exchanges of kinds came in that order, and returns the answer and its
// body.
func (c *Client) VerifySequence(ctx context.Context, tid string, kinds []string) (Sequence, []byte, error) {
	var s Sequence
	q := url.Values{"tid": {tid}, "txn": {strings.Join(kinds, ",")}}
	raw, err := c.do(ctx, http.MethodGet, "/verify/sequence", q, nil, "", &s)
	return s, raw, err
}

// --- scenarios ---

// ScenarioRef is a scenario sent to the host: one it knows, by Name, or a
// scenario file (YAML), which the host checks and adds to its library. A
// file that does not load is a *HostError with its problems.
type ScenarioRef struct {
	Name string
	YAML []byte
}

func (r ScenarioRef) body() ([]byte, string, error) {
	if r.YAML != nil {
		return r.YAML, "application/yaml", nil
	}
	body, err := json.Marshal(map[string]string{"name": r.Name})
	return body, "application/json", err
}

// Scenarios reads GET /scenarios: the scenarios the host knows and what
// each terminal gets.
func (c *Client) Scenarios(ctx context.Context) (ScenarioList, []byte, error) {
	var l ScenarioList
	raw, err := c.do(ctx, http.MethodGet, "/scenarios", nil, nil, "", &l)
	return l, raw, err
}

// SetScenario gives every terminal without a scenario of its own this one
// (PUT /scenario).
func (c *Client) SetScenario(ctx context.Context, ref ScenarioRef) (GlobalScenario, []byte, error) {
	var g GlobalScenario
	raw, err := c.putScenario(ctx, "/scenario", ref, &g)
	return g, raw, err
}

// ClearScenario sends the terminals without their own scenario back to the
// default host behaviour (DELETE /scenario).
func (c *Client) ClearScenario(ctx context.Context) (GlobalScenario, []byte, error) {
	var g GlobalScenario
	raw, err := c.do(ctx, http.MethodDelete, "/scenario", nil, nil, "", &g)
	return g, raw, err
}

// Bind gives terminal tid a scenario of its own (PUT
// /terminals/{tid}/scenario).
func (c *Client) Bind(ctx context.Context, tid string, ref ScenarioRef) (TerminalScenario, []byte, error) {
	var ts TerminalScenario
	raw, err := c.putScenario(ctx, terminalPath(tid), ref, &ts)
	return ts, raw, err
}

// Unbind sends terminal tid back to what every terminal gets (DELETE
// /terminals/{tid}/scenario).
func (c *Client) Unbind(ctx context.Context, tid string) (TerminalScenario, []byte, error) {
	var ts TerminalScenario
	raw, err := c.do(ctx, http.MethodDelete, terminalPath(tid), nil, nil, "", &ts)
	return ts, raw, err
}

func terminalPath(tid string) string { return "/terminals/" + url.PathEscape(tid) + "/scenario" }

func (c *Client) putScenario(ctx context.Context, path string, ref ScenarioRef, out any) ([]byte, error) {
	body, ct, err := ref.body()
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodPut, path, nil, body, ct, out)
}

// --- the clock and resets ---

// ClockChange is a PUT /clock: set the clock to Now, or run it Offset from
// real time, then move it by Advance; freeze it or let it run (Freeze). A
// nil field is left alone; the host takes the change whole or not at all.
type ClockChange struct {
	Now             *time.Time
	Offset, Advance *time.Duration
	Freeze          *bool
}

// MarshalJSON writes the change as PUT /clock takes it: durations as Go
// writes them ("-2h0m0s").
func (ch ClockChange) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if ch.Now != nil {
		m["now"] = ch.Now.Format(time.RFC3339Nano)
	}
	if ch.Offset != nil {
		m["offset"] = ch.Offset.String()
	}
	if ch.Advance != nil {
		m["advance"] = ch.Advance.String()
	}
	if ch.Freeze != nil {
		m["freeze"] = *ch.Freeze
	}
	return json.Marshal(m)
}

// Clock reads GET /clock.
func (c *Client) Clock(ctx context.Context) (ClockState, []byte, error) {
	var s ClockState
	raw, err := c.do(ctx, http.MethodGet, "/clock", nil, nil, "", &s)
	return s, raw, err
}

// SetClock changes the host's virtual clock (PUT /clock) and returns it as
// it then is.
func (c *Client) SetClock(ctx context.Context, ch ClockChange) (ClockState, []byte, error) {
	var s ClockState
	raw, err := c.putJSON(ctx, "/clock", ch, &s)
	return s, raw, err
}

// Reset forgets all the host's state (POST /reset), or one terminal's when
// tid is not "".
func (c *Client) Reset(ctx context.Context, tid string) (ResetAnswer, error) {
	var q url.Values
	if tid != "" {
		q = url.Values{"tid": {tid}}
	}
	var r ResetAnswer
	_, err := c.do(ctx, http.MethodPost, "/reset", q, nil, "", &r)
	return r, err
}

// --- the books ---

// Settlements reads GET /settlements: what each merchant is paid, by
// settlement date.
func (c *Client) Settlements(ctx context.Context, f report.Filter) ([]report.Settlement, []byte, error) {
	var ss []report.Settlement
	raw, err := c.do(ctx, http.MethodGet, "/settlements", settlementQuery(f), nil, "", &ss)
	return ss, raw, err
}

// SettlementsCSV reads GET /settlements?format=csv.
func (c *Client) SettlementsCSV(ctx context.Context, f report.Filter) ([]byte, error) {
	return c.csv(ctx, "/settlements", settlementQuery(f))
}

// Batches reads GET /batches: the terminals' batches.
func (c *Client) Batches(ctx context.Context, f BatchFilter) ([]books.Batch, []byte, error) {
	var bs []books.Batch
	raw, err := c.do(ctx, http.MethodGet, "/batches", f.query(), nil, "", &bs)
	return bs, raw, err
}

// BatchesCSV reads GET /batches?format=csv.
func (c *Client) BatchesCSV(ctx context.Context, f BatchFilter) ([]byte, error) {
	return c.csv(ctx, "/batches", f.query())
}

func (c *Client) csv(ctx context.Context, path string, q url.Values) ([]byte, error) {
	q.Set("format", "csv")
	raw, _, err := c.call(ctx, http.MethodGet, path, q, nil, "")
	return raw, err
}
