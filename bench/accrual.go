package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/perkflow/perkflow/domain"
)

// commitWatcher sees accruals commit. The bench adds a trigger to its database that announces every purchase row
// inserted into transactions (perkflow writes it in the same database transaction as the ledger entry and the
// balance), and LISTENs: Postgres delivers a notification when the transaction commits, that is when the points are
// visible to every reader. This measures "points visible" without polling and without the API's own wait, and
// whatever channel perkflow itself notifies on.
type commitWatcher struct {
	conn   *pgx.Conn
	cur    atomic.Pointer[recorder]
	cancel context.CancelFunc
	done   chan struct{}
}

// visibleChannel is the channel of the bench's trigger.
const visibleChannel = "perkflow_bench_visible"

// installVisibilityTrigger adds the trigger (idempotently); removeVisibilityTrigger takes it away again (for a
// database that is not the bench's own).
func installVisibilityTrigger(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) error {
	_, err := q.Exec(ctx, `
		CREATE OR REPLACE FUNCTION perkflow_bench_visible() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pg_notify('`+visibleChannel+`', NEW.transaction_id);
			RETURN NULL;
		END $$;
		DROP TRIGGER IF EXISTS perkflow_bench_visible ON transactions;
		CREATE TRIGGER perkflow_bench_visible AFTER INSERT ON transactions
			FOR EACH ROW EXECUTE FUNCTION perkflow_bench_visible();`)
	return err
}

func removeVisibilityTrigger(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) error {
	_, err := q.Exec(ctx, `
		DROP TRIGGER IF EXISTS perkflow_bench_visible ON transactions;
		DROP FUNCTION IF EXISTS perkflow_bench_visible();`)
	return err
}

func watchCommits(ctx context.Context, dbURL string) (*commitWatcher, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{visibleChannel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &commitWatcher{conn: conn, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			if r := w.cur.Load(); r != nil {
				r.complete(n.Payload, time.Now())
			}
		}
	}()
	return w, nil
}

func (w *commitWatcher) close() {
	w.cancel() // ends WaitForNotification
	<-w.done
	_ = w.conn.Close(context.Background())
}

// purchase is the bench's purchase: one line, 19.99 EUR, which the default program turns into 19 points.
func purchase(txID, memberID string, at time.Time) domain.Purchase {
	price := domain.Money{Amount: 1999, Currency: "EUR"}
	return domain.Purchase{
		TransactionID: txID, MemberID: memberID, StoreID: "bench-01", Channel: "store", OccurredAt: at.UTC().Truncate(time.Second),
		Total: price, Items: []domain.LineItem{{SKU: "BENCH-1", Category: "bench", Quantity: 1, UnitPrice: price}},
	}
}

func (s *stack) header(extra ...string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+s.apiKey)
	h.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// registerMembers enrols n members through the API, concurrently, and returns their ids.
func (s *stack) registerMembers(ctx context.Context, n int, tag string) ([]string, error) {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	hc := &http.Client{Timeout: 60 * time.Second}
	for range min(16, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				body, _ := json.Marshal(map[string]any{
					"email":   fmt.Sprintf("bench-%s-%s-%d@example.com", s.runID, tag, i),
					"name":    fmt.Sprintf("Bench Member %d", i),
					"consent": map[string]bool{"email": false, "sms": false},
				})
				// A 503 is retried as a till retries it: with the same Idempotency-Key, so the member is made once.
				var res *http.Response
				var err error
				for attempt := 1; ; attempt++ {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/members/register", bytes.NewReader(body))
					req.Header = s.header("Prefer", "wait=30", "Idempotency-Key", fmt.Sprintf("bench-%s-%s-%d", s.runID, tag, i))
					res, err = hc.Do(req)
					if err != nil || res.StatusCode != http.StatusServiceUnavailable || attempt == 5 {
						break
					}
					res.Body.Close()
					time.Sleep(time.Second)
				}
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var m struct {
					MemberID string `json:"member_id"`
				}
				if res.StatusCode != http.StatusCreated || json.Unmarshal(b, &m) != nil || m.MemberID == "" {
					select {
					case errc <- fmt.Errorf("register member: %s %s", res.Status, firstLine(b)):
					default:
					}
					return
				}
				ids[i] = m.MemberID
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return ids, ctx.Err()
}

// accrualRun drives POST /v1/transactions/accrue at rate for dur across members. With noWait, the request asks not
// to wait (Prefer: wait=0): its answer is the durable acceptance (202). Without, the request waits for the commit as
// a POS does by default, and its answer is 201 with the points (or 202 when the wait budget ran out). Either way the
// commit watcher measures when the points became visible.
type accrualRun struct {
	s       *stack
	watcher *commitWatcher
	members []string
	seq     atomic.Int64
}

func (a *accrualRun) step(ctx context.Context, name string, rate float64, dur, grace time.Duration, noWait bool) Step {
	rec := newRecorder()
	a.watcher.cur.Store(rec)
	defer a.watcher.cur.Store(nil)
	prefix := fmt.Sprintf("b%s-%d-", a.s.runID, a.seq.Add(1))
	hdr := a.s.header()
	if noWait {
		hdr = a.s.header("Prefer", "wait=0")
	}
	url := a.s.apiURL + "/v1/transactions/accrue"
	probe := a.s.cpuProbe()
	attackHTTP(ctx, rec, rate, dur, name, func(i uint64) httpTarget {
		id := prefix + strconv.FormatUint(i, 10)
		member := a.members[int(i%uint64(len(a.members)))]
		body, _ := json.Marshal(purchase(id, member, time.Now()))
		return httpTarget{id: id, method: http.MethodPost, url: url, body: body, header: hdr}
	})
	missing := rec.waitIdle(ctx, grace)
	st := rec.result(name, rate, dur, true)
	st.CPU = probe.stop(st.Completed)
	st.noteShortfall()
	if len(missing) > 0 {
		committed := a.s.countCommitted(ctx, missing)
		st.Why = fmt.Sprintf("%d accepted purchases not visible %s after the last send (%d of them committed since)",
			len(missing), grace, committed)
		// Let the backlog clear before anything else is measured.
		rec.waitIdle(ctx, 3*time.Minute)
	}
	return st
}

// countCommitted counts which of the transaction ids are in Postgres.
func (s *stack) countCommitted(ctx context.Context, ids []string) int {
	var n int
	_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE transaction_id = ANY($1)`, ids).Scan(&n)
	return n
}

func (s *stack) cpuProbe() *cpuProbe {
	return startCPUProbe(s.api.pid(), s.workerPIDs(), s.dbNameOf(), s.baseline)
}

// postAccrual sends one purchase without waiting for its commit; used to load one member with many purchases.
func (s *stack) postAccrual(ctx context.Context, hc *http.Client, p domain.Purchase) error {
	body, _ := json.Marshal(p)
	// A 503 (a dependency slow or down) is retried as a POS retries it: with the same transaction id, which makes
	// the retry safe, after the answer's Retry-After (a few attempts at most).
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/transactions/accrue", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header = s.header("Prefer", "wait=0")
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusCreated:
			return nil
		case res.StatusCode == http.StatusServiceUnavailable && attempt < 5:
			wait := time.Second
			if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && n > 0 {
				wait = time.Duration(n) * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		default:
			return errors.New("accrue: " + res.Status + " " + firstLine(b))
		}
	}
}
