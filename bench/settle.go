package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// SettleResult is what came of settling every terminal's batch at the end.
type SettleResult struct {
	// Terminals is the number that tried to settle.
	Terminals int `json:"terminals"`
	// Balanced counts terminals whose totals the host agreed with;
	// OutOfBalance those it did not, which then uploaded their batch.
	Balanced     int `json:"balanced"`
	OutOfBalance int `json:"out_of_balance"`
	// Failed counts terminals whose settlement did not complete.
	Failed int `json:"failed"`
	// Uploads counts batch upload records (0320) sent.
	Uploads int `json:"uploads"`
	// Oversized counts terminals whose batch held more than 999 debits or
	// credits: more than the settlement totals' 3-digit counts can say, so
	// out of balance whatever the host booked.
	Oversized int `json:"oversized_batches"`
	// RC counts the settlement responses (0510) by response code.
	RC map[string]int64 `json:"rc"`
	// Errors says why settlements failed, one line per terminal.
	Errors    []string `json:"errors,omitempty"`
	DurationS float64  `json:"duration_s"`
}

// settle has every terminal settle its batch, several at a time, each on a
// connection of its own with the terminal emulator's settlement flow.
func (r *runner) settle(ctx context.Context) *SettleResult {
	start := time.Now()
	res := &SettleResult{Terminals: len(r.conns), RC: map[string]int64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, c := range r.conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			xs, oversized, err := c.settle(ctx)
			mu.Lock()
			defer mu.Unlock()
			if oversized {
				res.Oversized++
			}
			if len(xs) > 0 && xs[0] != nil && xs[0].Response != nil {
				rc := xs[0].RC()
				if rc == "" {
					rc = "none"
				}
				res.RC[rc]++
			}
			balanced := len(xs) > 0 && xs[0] != nil && settledBalanced(r.d, xs[0])
			for _, x := range xs {
				if x != nil && x.Type == txn.Upload {
					res.Uploads++
				}
			}
			switch {
			case err != nil:
				res.Failed++
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", c.tid, err))
			case balanced:
				res.Balanced++
			default:
				res.OutOfBalance++
			}
		})
	}
	wg.Wait()
	res.DurationS = math.Round(time.Since(start).Seconds()*1000) / 1000
	return res
}

// settledBalanced reads a settlement response: iso87 RC 00 (95 is out of
// balance); cup RC 00 with reconciliation code 1 at both places of F48.
func settledBalanced(d *dialect.Dialect, x *terminal.Exchange) bool {
	balanced, ok := d.Settled(x.Response)
	return ok && balanced
}

// settle dials the host as this terminal and settles its batch; oversized
// says the batch is too big for the settlement totals.
func (c *conn) settle(ctx context.Context) (xs []*terminal.Exchange, oversized bool, err error) {
	cfg := &c.r.cfg
	t, err := terminal.Dial(ctx, terminal.Config{
		Addr: cfg.Addr, Dialect: c.r.d, Header: cfg.Header, TID: c.tid, MID: cfg.MID, Card: cfg.Card,
		KeyVariant: cfg.KeyVariant, MasterKey: cfg.MasterKey, Timeout: cfg.Timeout, TLS: cfg.TLS,
		TPDU: c.pre[:min(5, len(c.pre))], CUPHeader: c.pre[min(5, len(c.pre)):],
	})
	if err != nil {
		return nil, false, err
	}
	defer t.Close()
	t.State = c.state()
	tot := t.Totals()
	oversized = tot.DebitCount > 999 || tot.CreditCount > 999
	xs, err = t.Settle()
	return xs, oversized, err
}

// state is the terminal's batch as the emulator keeps it: what it booked,
// less what was reversed.
func (c *conn) state() terminal.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := terminal.State{STAN: c.stan, Batch: c.b.batch}
	// Each kind's processing code, as the dialect writes it.
	proc := map[kind]string{}
	for _, k := range []kind{kSale, kVoid} {
		v := c.b.values(k, &vars{orig: &sale{}})
		proc[k], _ = c.b.d.Field(k.txn(), &v, 3)
	}
	for _, r := range c.records {
		if r.reversed {
			continue
		}
		rec := terminal.Record{
			Type: r.kind.txn(), MTI: reqMTI(r.kind), Proc: proc[r.kind], STAN: stan6(r.stan), RRN: r.rrn, Auth: r.auth,
			Amount: r.amount, Date: r.date, Batch: r.batch, Voided: r.voided,
		}
		if r.kind == kVoid {
			rec.Orig = stan6(r.orig)
		}
		st.Records = append(st.Records, rec)
	}
	return st
}
