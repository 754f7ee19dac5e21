package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// WebhookOptions tune webhook delivery.
type WebhookOptions struct {
	// AllowPrivate lets endpoints be http, or at private, loopback and link-local addresses (development and
	// tests: PERKFLOW_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// Retries is the wait before each retry (default domain.WebhookRetrySchedule).
	Retries []time.Duration
	// AttemptTimeout bounds one attempt (default domain.WebhookAttemptTimeout).
	AttemptTimeout time.Duration
	// Concurrency is how many members' deliveries one endpoint's round sends at once (default 16).
	Concurrency int
	// RoundBudget is how long a round keeps starting new attempts (default 60 s); what is left goes to the next.
	RoundBudget time.Duration
}

// webhookClients holds the HTTP client of each Activities value, built on first use.
var webhookClients sync.Map // *Activities → *http.Client

func (a *Activities) webhookClient() *http.Client {
	if c, ok := webhookClients.Load(a); ok {
		return c.(*http.Client)
	}
	c, _ := webhookClients.LoadOrStore(a, NewWebhookClient(a.Webhooks.AllowPrivate, a.Webhooks.timeout()))
	return c.(*http.Client)
}

func (o WebhookOptions) timeout() time.Duration {
	if o.AttemptTimeout > 0 {
		return o.AttemptTimeout
	}
	return domain.WebhookAttemptTimeout
}

// ErrPrivateAddress is the dial error for an address webhooks may not reach.
var ErrPrivateAddress = errors.New("refused: webhooks are sent to public addresses only")

// NewWebhookClient is the HTTP client deliveries are sent with: each attempt bounded by timeout, redirects not
// followed (a 3xx is a failed attempt), no proxy, and unless allowPrivate every connection refused whose resolved
// address is not public — checked as the socket connects, after DNS, so a name that resolved to a public address
// when the endpoint was made and to a private one now (DNS rebinding) is still refused.
func NewWebhookClient(allowPrivate bool, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !domain.PublicAddress(ip) {
				return fmt.Errorf("%w (%s)", ErrPrivateAddress, host)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// DeliverWebhooks runs one round of an endpoint's deliveries: it queues the events committed since the last round
// and sends every delivery due, the deliveries of one member one after another in the order their events happened,
// different members' at once. Each attempt is recorded as it ends, so a retried round sends again only what it had
// not recorded.
func (a *Activities) DeliverWebhooks(ctx context.Context, req domain.WebhookRoundRequest) (domain.WebhookRoundResult, error) {
	limit := req.Limit
	if limit <= 0 {
		limit = 500
	}
	stopBeat := heartbeatEvery(ctx, 5*time.Second)
	defer stopBeat()
	round, err := a.Store.DueWebhookDeliveries(ctx, req.EndpointID, a.Store.Now(), limit)
	if err != nil {
		return domain.WebhookRoundResult{}, err
	}
	if round.Gone || !round.Endpoint.Enabled {
		return domain.WebhookRoundResult{Stopped: true}, nil
	}
	budget := a.Webhooks.RoundBudget
	if budget <= 0 {
		budget = time.Minute
	}
	deadline := time.Now().Add(budget)
	// Chains of deliveries by key, in event order; a replay is a chain of its own.
	var chains [][]store.DueWebhookDelivery
	byKey := map[string]int{}
	for _, d := range round.Due {
		if d.Replay {
			chains = append(chains, []store.DueWebhookDelivery{d})
			continue
		}
		i, ok := byKey[d.OrderKey]
		if !ok {
			i = len(chains)
			byKey[d.OrderKey] = i
			chains = append(chains, nil)
		}
		chains[i] = append(chains[i], d)
	}
	conc := a.Webhooks.Concurrency
	if conc <= 0 {
		conc = 16
	}
	var (
		mu       sync.Mutex
		res      domain.WebhookRoundResult
		stopped  bool
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, conc)
	)
	for _, chain := range chains {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for _, d := range chain {
				mu.Lock()
				stop := stopped || firstErr != nil
				mu.Unlock()
				if stop || ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				ok, disabled, err := a.attemptWebhook(ctx, round.Endpoint, d)
				mu.Lock()
				switch {
				case err != nil:
					firstErr = cmpErr(firstErr, err)
				case ok:
					res.Delivered++
				default:
					res.Failed++
				}
				if disabled {
					stopped = true
				}
				mu.Unlock()
				if !ok || err != nil {
					return // the member's later events wait for this one
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	if stopped {
		res.Stopped = true
		return res, nil
	}
	res.More = len(round.Due) == limit || time.Now().After(deadline)
	next, err := a.Store.NextWebhookAttempt(ctx, req.EndpointID)
	if err != nil {
		return res, err
	}
	if next != nil {
		res.Pending, res.NextAttemptIn = true, max(next.Sub(a.Store.Now()), 0)
	}
	return res, nil
}

// heartbeatEvery heartbeats the activity of ctx every d until the returned stop is called, so that a round lost
// with its worker is retried after the heartbeat timeout.
func heartbeatEvery(ctx context.Context, d time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// webhookBody is what a delivery sends.
type webhookBody struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// attemptWebhook sends one delivery and records the attempt: ok when the receiver answered 2xx, disabled when the
// attempt disabled the endpoint. err is only for a failure to record (the round is retried).
func (a *Activities) attemptWebhook(ctx context.Context, ep store.WebhookEndpointRecord, d store.DueWebhookDelivery) (ok, disabled bool, err error) {
	now := a.Store.Now()
	att := store.WebhookAttempt{DeliveryID: d.ID, Replay: d.Replay}
	body, berr := webhookPayload(d)
	var retryAfter time.Duration
	start := time.Now()
	if berr != nil {
		att.Error = berr.Error()
	} else {
		att.StatusCode, retryAfter, att.Error = a.sendWebhook(ctx, ep, d.EventID, now, body)
	}
	att.Duration = time.Since(start)
	att.Delivered = att.StatusCode >= 200 && att.StatusCode < 300
	att.Gone = att.StatusCode == http.StatusGone
	if !att.Delivered && berr == nil {
		att.NextAttempt = nextWebhookAttempt(a.Webhooks.Retries, d.Attempts+1, retryAfter, now)
	}
	outcome := "failed"
	if att.Delivered {
		outcome = "delivered"
	}
	a.Metrics.WebhookDelivery(outcome, att.Duration)
	// Recorded even when the round is being cancelled (its worker stopping): an attempt made and not recorded is
	// sent again by the next round.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r, err := a.Store.RecordWebhookAttempt(rctx, ep.ID, att)
	if err != nil {
		return false, false, err
	}
	if r.Disabled != "" {
		a.Log.Warn("webhook endpoint disabled; admins must enable it again", "endpoint_id", ep.ID, "reason", r.Disabled)
	}
	return att.Delivered, r.Disabled != "", nil
}

// webhookPayload is the body of a delivery: {type, timestamp, data}, the member's personal data added under
// data.member for endpoints that include it, at most domain.WebhookMaxBody bytes.
func webhookPayload(d store.DueWebhookDelivery) ([]byte, error) {
	data := d.Data
	if len(d.Personal) > 0 {
		var m map[string]any
		if err := json.Unmarshal(d.Data, &m); err == nil {
			m["member"] = d.Personal
			if b, err := json.Marshal(m); err == nil {
				data = b
			}
		}
	}
	b, err := json.Marshal(webhookBody{Type: d.EventType, Timestamp: d.OccurredAt.UTC(), Data: data})
	if err != nil {
		return nil, err
	}
	if len(b) > domain.WebhookMaxBody {
		return nil, fmt.Errorf("payload of %d bytes exceeds %d", len(b), domain.WebhookMaxBody)
	}
	return b, nil
}

// sendWebhook posts body to the endpoint, signed with each of its current secrets, and returns the status (0 when no
// answer came), the Retry-After of a 429 or 503, and what went wrong.
func (a *Activities) sendWebhook(ctx context.Context, ep store.WebhookEndpointRecord, id string, now time.Time, body []byte) (int, time.Duration, string) {
	ts := now.Unix()
	var sigs []string
	for _, secret := range ep.SigningSecrets(now) {
		sig, err := domain.SignWebhook(secret, id, ts, body)
		if err != nil {
			return 0, 0, err.Error()
		}
		sigs = append(sigs, sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "bad endpoint URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "perkflow-webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	res, err := a.webhookClient().Do(req)
	if err != nil {
		return 0, 0, attemptError(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	var ra time.Duration
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		ra = parseRetryAfter(res.Header.Get("Retry-After"), time.Now(), domain.WebhookMaxRetryAfter)
	}
	msg := ""
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		msg = "answered " + res.Status
	}
	return res.StatusCode, ra, msg
}

// attemptError names why no answer came, without the URL (it may carry a token of the merchant's).
func attemptError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrPrivateAddress):
		return ErrPrivateAddress.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer within the attempt's timeout"
	default:
		var oe *net.OpError
		if errors.As(err, &oe) {
			return "connection failed: " + oe.Err.Error()
		}
		return "request failed"
	}
}

// nextWebhookAttempt is when to retry after failed attempt number n (1 = the first): the schedule's wait with ±10 %
// jitter, or the receiver's Retry-After when it gave one; zero once the schedule is spent.
func nextWebhookAttempt(schedule []time.Duration, n int, retryAfter time.Duration, now time.Time) time.Time {
	if schedule == nil {
		schedule = domain.WebhookRetrySchedule
	}
	if n-1 >= len(schedule) {
		return time.Time{}
	}
	if retryAfter > 0 {
		return now.Add(retryAfter)
	}
	wait := schedule[n-1]
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return now.Add(wait + jitter)
}
