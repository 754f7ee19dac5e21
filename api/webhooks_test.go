package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// The receivers here are real HTTP servers that check every delivery as a merchant's would: the Standard Webhooks
// v1 signature, computed by the test's own code from the spec (not by perkflow's), over the exact body received.

// standardWebhooksSignature is the spec's signature: base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), the key
// being the base64 decoding of the secret after its "whsec_" prefix.
func standardWebhooksSignature(t testing.TB, secret, id, timestamp string, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("secret %q is not whsec_ + base64: %v", secret, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type received struct {
	ID        string
	Type      string
	Timestamp time.Time
	Data      map[string]any
	Sigs      []string
	At        time.Time
	Body      string // the raw body, as signed
}

// webhookReceiver records every attempt and answers as answer says (200 when nil).
type webhookReceiver struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	secrets  []string // every signature set must hold one valid under each
	ok       []received
	attempts map[string]int // by webhook-id
	answer   func(r received, attempt int) (status int, header map[string]string)
	hang     chan struct{} // when set, every request waits on it (or on the client giving up)
}

func newWebhookReceiver(t testing.TB) *webhookReceiver {
	rc := &webhookReceiver{t: t, attempts: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *webhookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	hang := rc.hang
	rc.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	var sigs []string
	for _, s := range strings.Fields(r.Header.Get("webhook-signature")) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			rc.t.Errorf("webhook-signature %q is not v1,<base64>", s)
		}
		sigs = append(sigs, sig)
	}
	if len(body) >= 20<<10 {
		rc.t.Errorf("body of %d bytes, want < 20 KB", len(body))
	}
	var payload struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&payload); err != nil {
		rc.t.Errorf("body is not {type, timestamp, data}: %v: %s", err, body)
	}
	var data map[string]any
	_ = json.Unmarshal(payload.Data, &data)
	rec := received{ID: id, Type: payload.Type, Timestamp: payload.Timestamp, Data: data, Sigs: sigs, At: time.Now(), Body: string(body)}

	rc.mu.Lock()
	secrets := append([]string(nil), rc.secrets...)
	rc.attempts[id]++
	n := rc.attempts[id]
	answer := rc.answer
	rc.mu.Unlock()
	if len(secrets) == 0 {
		rc.t.Errorf("delivery %s before the test knew the endpoint's secret", id)
	}
	if sec, err := time.Parse(time.RFC3339, time.Unix(mustAtoi(rc.t, ts), 0).UTC().Format(time.RFC3339)); err != nil || time.Since(sec) > time.Minute || time.Until(sec) > time.Minute {
		rc.t.Errorf("webhook-timestamp %q is not now", ts)
	}
	for _, secret := range secrets {
		want := standardWebhooksSignature(rc.t, secret, id, ts, body)
		found := false
		for _, s := range sigs {
			found = found || hmac.Equal([]byte(s), []byte(want))
		}
		if !found {
			rc.t.Errorf("delivery %s (%s): no signature verifies with secret %s…: %v", id, payload.Type, secret[:10], sigs)
		}
	}
	status, hdr := http.StatusOK, map[string]string(nil)
	if answer != nil {
		status, hdr = answer(rec, n)
	}
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	if status >= 200 && status < 300 {
		rc.mu.Lock()
		rc.ok = append(rc.ok, rec)
		rc.mu.Unlock()
	}
}

func mustAtoi(t testing.TB, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Errorf("webhook-timestamp %q is not Unix seconds", s)
	}
	return n
}

func (rc *webhookReceiver) setSecrets(s ...string) {
	rc.mu.Lock()
	rc.secrets = s
	rc.mu.Unlock()
}

func (rc *webhookReceiver) delivered() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.ok...)
}

func (rc *webhookReceiver) attemptsOf(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts[id]
}

// allAttempts counts every request received, whatever its event.
func (rc *webhookReceiver) allAttempts() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, a := range rc.attempts {
		n += a
	}
	return n
}

// waitFor polls cond until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fastRetries is a short schedule for tests: the real one spans three days.
var fastRetries = activities.WebhookOptions{AllowPrivate: true, AttemptTimeout: 2 * time.Second,
	Retries: []time.Duration{150 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond,
		150 * time.Millisecond, 150 * time.Millisecond}}

type endpointAnswer struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Enabled        bool     `json:"enabled"`
	DisabledReason string   `json:"disabled_reason"`
	Secret         string   `json:"secret"`
}

func createEndpoint(t testing.TB, s *itest.Stack, url string, events ...string) endpointAnswer {
	t.Helper()
	res := s.Do("POST", "/v1/webhook-endpoints", s.Keys["admin"], map[string]any{"url": url, "events": events, "description": "test receiver"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", res.Status, res.Body)
	}
	var e endpointAnswer
	res.Decode(t, &e)
	if !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("secret %q is not whsec_…", e.Secret)
	}
	return e
}

type deliveryLine struct {
	EventID     string `json:"event_id"`
	EventType   string `json:"event_type"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts"`
	StatusCodes []int  `json:"status_codes"`
	LastError   string `json:"last_error"`
	Replay      bool   `json:"replay"`
	NextAttempt string `json:"next_attempt_at"`
}

func deliveryLog(t testing.TB, s *itest.Stack, endpointID string) []deliveryLine {
	t.Helper()
	res := s.Do("GET", "/v1/webhook-endpoints/"+endpointID+"/deliveries?limit=200", s.Keys["admin"], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("deliveries: %d %s", res.Status, res.Body)
	}
	var page struct {
		Items []deliveryLine `json:"items"`
	}
	res.Decode(t, &page)
	return page.Items
}

func newMember(t testing.TB, s *itest.Stack) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := s.Store.CreateMember(context.Background(), domain.Registration{MemberID: id, Email: id + "@example.com", Name: "Webhook Member"}); err != nil {
		t.Fatal(err)
	}
	return id
}

func adjust(t testing.TB, s *itest.Stack, memberID, adjID string, points int64) {
	t.Helper()
	if _, err := s.Store.Adjust(context.Background(), domain.Adjustment{AdjustmentID: adjID, MemberID: memberID, Points: points,
		Reason: "webhook test", Actor: "test"}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookSignedDeliveryRetriedThenDeliveredOnce(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	rc := newWebhookReceiver(t)
	rc.answer = func(r received, attempt int) (int, map[string]string) {
		if r.Type == domain.EventMemberRegistered && attempt <= 3 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	}
	ep := createEndpoint(t, s, rc.srv.URL+"/hooks", domain.EventMemberRegistered, domain.EventPointsAdjusted)
	rc.setSecrets(ep.Secret)

	// The member's second event waits behind the first one's retries.
	m := newMember(t, s)
	adjust(t, s, m, "adj-retry-1", 40)

	waitFor(t, 60*time.Second, "both events delivered", func() bool { return len(rc.delivered()) == 2 })
	got := rc.delivered()
	firstID := got[0].ID
	if got[0].Type != domain.EventMemberRegistered || got[1].Type != domain.EventPointsAdjusted {
		t.Fatalf("delivered %+v, want member.registered then points.adjusted", got)
	}
	if got[0].Data["member_id"] != m || got[1].Data["member_id"] != m || got[1].Data["points"] != float64(40) || got[1].Data["balance_after"] != float64(40) {
		t.Errorf("payloads: %+v", got)
	}
	for _, r := range got {
		if strings.Contains(r.Body, m+"@example.com") || strings.Contains(r.Body, "Webhook Member") || strings.Contains(r.Body, `"email"`) {
			t.Errorf("personal data in a payload of an endpoint without include_personal_data: %s", r.Body)
		}
	}
	// The 2xx came once, after three failures, and the log says so.
	time.Sleep(500 * time.Millisecond)
	if n := rc.attemptsOf(firstID); n != 4 {
		t.Errorf("first event attempted %d times, want 4 (3 failures and 1 success)", n)
	}
	if n := len(rc.delivered()); n != 2 {
		t.Errorf("%d successful deliveries, want 2", n)
	}
	var line deliveryLine
	for _, l := range deliveryLog(t, s, ep.ID) {
		if l.EventID == firstID {
			line = l
		}
	}
	if line.Status != "delivered" || line.Attempts != 4 || fmt.Sprint(line.StatusCodes) != "[500 500 500 200]" || line.NextAttempt != "" {
		t.Errorf("log of the first event: %+v, want delivered after [500 500 500 200]", line)
	}

	// Replay: the same event again, with the same webhook-id, marked as a replay in the log.
	res := s.Do("POST", "/v1/webhook-endpoints/"+ep.ID+"/replay", s.Keys["admin"], map[string]any{"event_id": firstID})
	if res.Status != http.StatusAccepted {
		t.Fatalf("replay: %d %s", res.Status, res.Body)
	}
	waitFor(t, 30*time.Second, "the replay", func() bool { return len(rc.delivered()) == 3 })
	if r := rc.delivered()[2]; r.ID != firstID || r.Type != domain.EventMemberRegistered {
		t.Errorf("replayed %+v, want event %s", r, firstID)
	}
	replays := 0
	for _, l := range deliveryLog(t, s, ep.ID) {
		if l.Replay {
			replays++
		}
	}
	if replays != 1 {
		t.Errorf("%d replay lines in the log, want 1", replays)
	}
	// A range replay: everything since before the test.
	res = s.Do("POST", "/v1/webhook-endpoints/"+ep.ID+"/replay", s.Keys["admin"], map[string]any{"since": time.Now().Add(-time.Hour)})
	var q struct {
		Queued int `json:"queued"`
	}
	res.Decode(t, &q)
	if res.Status != http.StatusAccepted || q.Queued != 2 {
		t.Fatalf("range replay: %d %s, want 2 queued", res.Status, res.Body)
	}
	waitFor(t, 30*time.Second, "the range replay", func() bool { return len(rc.delivered()) == 5 })
	if res := s.Do("POST", "/v1/webhook-endpoints/"+ep.ID+"/replay", s.Keys["admin"], map[string]any{"event_id": uuid.NewString()}); res.Status != http.StatusNotFound {
		t.Errorf("replay of an unknown event: %d %s, want 404", res.Status, res.Body)
	}
	if res := s.Do("POST", "/v1/webhook-endpoints/"+ep.ID+"/replay", s.Keys["admin"], map[string]any{}); res.Status != http.StatusBadRequest {
		t.Errorf("replay of nothing: %d %s, want 400", res.Status, res.Body)
	}

	// Deleting the endpoint ends its workflow; its history (retries, replays, the end) is kept for the replay test.
	if res := s.Do("DELETE", "/v1/webhook-endpoints/"+ep.ID, s.Keys["admin"], nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Temporal.GetWorkflow(wctx, workflows.WebhookEndpointWorkflowID(ep.ID), "").Get(wctx, nil); err != nil {
		t.Fatalf("endpoint workflow after delete: %v", err)
	}
	s.RecordHistory(workflows.WebhookEndpointWorkflowID(ep.ID), "", "webhook_endpoint_retries_replay_delete")
}

// TestWebhookOrderPerMemberUnderConcurrentWriters: 16 writers at once write points for 4 members while the receiver
// fails one attempt in five; each member's events still arrive in the order they were committed, each once.
func TestWebhookOrderPerMemberUnderConcurrentWriters(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	rc := newWebhookReceiver(t)
	var mu sync.Mutex
	n := 0
	rc.answer = func(r received, attempt int) (int, map[string]string) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%5 == 0 && attempt == 1 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusNoContent, nil
	}
	ep := createEndpoint(t, s, rc.srv.URL, domain.EventPointsAdjusted)
	rc.setSecrets(ep.Secret)
	members := []string{newMember(t, s), newMember(t, s), newMember(t, s), newMember(t, s)}
	const writers, each = 16, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				adjust(t, s, members[(w+i)%len(members)], fmt.Sprintf("adj-%d-%d", w, i), int64(1+i))
			}
		}()
	}
	wg.Wait()
	waitFor(t, 90*time.Second, "every event delivered", func() bool { return len(rc.delivered()) >= writers*each })
	time.Sleep(300 * time.Millisecond)
	got := rc.delivered()
	if len(got) != writers*each {
		t.Fatalf("%d deliveries acknowledged, want %d", len(got), writers*each)
	}
	last := map[string]float64{}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Errorf("event %s acknowledged twice", r.ID)
		}
		seen[r.ID] = true
		m, entry := r.Data["member_id"].(string), r.Data["entry_id"].(float64)
		if entry <= last[m] {
			t.Errorf("member %s: entry %v arrived after entry %v", m, entry, last[m])
		}
		last[m] = entry
	}
	// The balance each event reports is the sum of the member's events so far: nothing missing in between.
	sum := map[string]float64{}
	for _, r := range got {
		m := r.Data["member_id"].(string)
		sum[m] += r.Data["points"].(float64)
		if r.Data["balance_after"] != sum[m] {
			t.Errorf("member %s: balance_after %v, want %v", m, r.Data["balance_after"], sum[m])
		}
	}
}

// TestWebhookRolledBackChangeSendsNothing: an event written in a transaction that rolls back is never sent; one
// committed after it is.
func TestWebhookRolledBackChangeSendsNothing(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	rc := newWebhookReceiver(t)
	ep := createEndpoint(t, s, rc.srv.URL, "*")
	rc.setSecrets(ep.Secret)
	ctx := context.Background()
	m := newMember(t, s)
	errRollback := errors.New("roll back")
	err := pgx.BeginFunc(ctx, s.DB.Pool, func(tx pgx.Tx) error {
		if err := store.EmitEvent(ctx, tx, domain.EventPointsAdjusted, m, time.Now(), map[string]any{"member_id": m, "rolled_back": true}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	adjust(t, s, m, "after-rollback", 7)
	waitFor(t, 30*time.Second, "the committed event", func() bool {
		for _, r := range rc.delivered() {
			if r.Data["points"] == float64(7) {
				return true
			}
		}
		return false
	})
	for _, r := range rc.delivered() {
		if r.Data["rolled_back"] == true {
			t.Errorf("the rolled-back event was sent: %+v", r)
		}
	}
}

// TestWebhookCrashAfterCommitStillDelivers: events committed while no worker runs (stopped after the commit) are
// delivered once one starts again.
func TestWebhookCrashAfterCommitStillDelivers(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	rc := newWebhookReceiver(t)
	ep := createEndpoint(t, s, rc.srv.URL, domain.EventPointsAdjusted)
	rc.setSecrets(ep.Secret)
	m := newMember(t, s)
	adjust(t, s, m, "before-crash", 1)
	waitFor(t, 30*time.Second, "the first event", func() bool { return len(rc.delivered()) == 1 })
	s.StopWorker()
	adjust(t, s, m, "during-crash-1", 2)
	adjust(t, s, m, "during-crash-2", 3)
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.delivered()); n != 1 {
		t.Fatalf("%d deliveries with no worker running", n)
	}
	s.StartWorker()
	// Delivery is at least once: an attempt the stopping worker made but could not record is made again, with the
	// same webhook-id, by which receivers tell repeats.
	unique := func() []received {
		var out []received
		seen := map[string]bool{}
		for _, r := range rc.delivered() {
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, r)
			}
		}
		return out
	}
	waitFor(t, 60*time.Second, "the events committed during the crash", func() bool { return len(unique()) == 3 })
	if got := unique(); got[1].Data["points"] != float64(2) || got[2].Data["points"] != float64(3) {
		t.Errorf("after restart: %+v", got[1:])
	}
}

// TestWebhookRetryAfterGoneAndHangingReceivers: a 429 with Retry-After is retried no sooner; a 410 disables the
// endpoint and tells the other endpoints; a receiver that hangs times out without holding up points writes or the
// other endpoints.
func TestWebhookRetryAfterGoneAndHangingReceivers(t *testing.T) {
	opts := fastRetries
	opts.AttemptTimeout = time.Second
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: opts})

	limited := newWebhookReceiver(t)
	var first time.Time
	limited.answer = func(r received, attempt int) (int, map[string]string) {
		if attempt == 1 {
			first = r.At
			return http.StatusTooManyRequests, map[string]string{"Retry-After": "2"}
		}
		if r.At.Sub(first) < 2*time.Second {
			t.Errorf("retried %s after a 429 with Retry-After: 2", r.At.Sub(first))
		}
		return http.StatusOK, nil
	}
	gone := newWebhookReceiver(t)
	gone.answer = func(received, int) (int, map[string]string) { return http.StatusGone, nil }
	hanging := newWebhookReceiver(t)
	release := make(chan struct{})
	hanging.hang = release
	t.Cleanup(func() { close(release) })
	watcher := newWebhookReceiver(t)

	epLimited := createEndpoint(t, s, limited.srv.URL, domain.EventPointsAdjusted)
	limited.setSecrets(epLimited.Secret)
	epGone := createEndpoint(t, s, gone.srv.URL, domain.EventPointsAdjusted)
	gone.setSecrets(epGone.Secret)
	epHanging := createEndpoint(t, s, hanging.srv.URL, domain.EventPointsAdjusted)
	hanging.setSecrets(epHanging.Secret)
	epWatcher := createEndpoint(t, s, watcher.srv.URL, domain.EventPointsAdjusted, domain.EventEndpointDisabled)
	watcher.setSecrets(epWatcher.Secret)

	m := newMember(t, s)
	for i := range 5 {
		adjust(t, s, m, fmt.Sprintf("hang-%d", i), 1) // returns at once whatever the receivers do
	}
	waitFor(t, 30*time.Second, "the watcher's five events while another endpoint hangs", func() bool {
		n := 0
		for _, r := range watcher.delivered() {
			if r.Type == domain.EventPointsAdjusted {
				n++
			}
		}
		return n == 5
	})
	waitFor(t, 30*time.Second, "the 410 endpoint disabled", func() bool {
		var e endpointAnswer
		s.Do("GET", "/v1/webhook-endpoints/"+epGone.ID, s.Keys["admin"], nil).Decode(t, &e)
		return !e.Enabled && strings.Contains(e.DisabledReason, "410")
	})
	waitFor(t, 30*time.Second, "the disabled event at the watcher", func() bool {
		for _, r := range watcher.delivered() {
			if r.Type == domain.EventEndpointDisabled && r.Data["endpoint_id"] == epGone.ID {
				return true
			}
		}
		return false
	})
	waitFor(t, 30*time.Second, "the rate-limited endpoint's five events", func() bool { return len(limited.delivered()) == 5 })
	waitFor(t, 30*time.Second, "the hanging endpoint's timed-out attempt in its log", func() bool {
		for _, l := range deliveryLog(t, s, epHanging.ID) {
			if l.Attempts > 0 && l.StatusCodes[0] == 0 && strings.Contains(l.LastError, "timeout") {
				return true
			}
		}
		return false
	})
	// The 410 endpoint got one attempt and nothing after it was disabled.
	if n := len(deliveryLog(t, s, epGone.ID)); n == 0 {
		t.Error("no log for the 410 endpoint")
	}
	if n := gone.allAttempts(); n != 1 {
		t.Errorf("the 410 endpoint received %d requests, want exactly 1 (disabled by its first answer)", n)
	}
}

// TestWebhookSecretRotationSignsWithBoth: after a rotation every delivery verifies with the old secret and the new.
func TestWebhookSecretRotationSignsWithBoth(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	rc := newWebhookReceiver(t)
	ep := createEndpoint(t, s, rc.srv.URL, domain.EventPointsAdjusted)
	rc.setSecrets(ep.Secret)
	m := newMember(t, s)
	adjust(t, s, m, "before-rotation", 1)
	waitFor(t, 30*time.Second, "the first event", func() bool { return len(rc.delivered()) == 1 })
	if n := len(rc.delivered()[0].Sigs); n != 1 {
		t.Errorf("%d signatures before a rotation, want 1", n)
	}
	res := s.Do("POST", "/v1/webhook-endpoints/"+ep.ID+"/rotate-secret", s.Keys["admin"], nil)
	var rotated endpointAnswer
	res.Decode(t, &rotated)
	if res.Status != http.StatusOK || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == ep.Secret {
		t.Fatalf("rotate: %d %s", res.Status, res.Body)
	}
	rc.setSecrets(ep.Secret, rotated.Secret)
	adjust(t, s, m, "after-rotation", 2)
	waitFor(t, 30*time.Second, "the event after the rotation", func() bool { return len(rc.delivered()) == 2 })
	if n := len(rc.delivered()[1].Sigs); n != 2 {
		t.Errorf("%d signatures during the overlap, want 2", n)
	}
	// Reading the endpoint never shows a secret.
	if res := s.Do("GET", "/v1/webhook-endpoints/"+ep.ID, s.Keys["admin"], nil); strings.Contains(string(res.Body), "whsec_") {
		t.Errorf("GET shows a secret: %s", res.Body)
	}
}

// TestWebhookEndpointsRefusePrivateAddresses: without PERKFLOW_WEBHOOK_ALLOW_PRIVATE, an endpoint must be https to a
// public address when it is made; and one whose name now points at a private address (DNS rebinding, here an
// endpoint stored with a loopback URL) is refused as the delivery connects.
func TestWebhookEndpointsRefusePrivateAddresses(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: activities.WebhookOptions{Retries: fastRetries.Retries, AttemptTimeout: 2 * time.Second}})
	admin := s.Keys["admin"]
	for _, url := range []string{"http://example.com/hook", "https://127.0.0.1/hook", "https://localhost:8443/hook",
		"https://10.1.2.3/hook", "https://192.168.0.10/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]/hook",
		"https://[fe80::1]/hook", "https://user:pw@example.com/hook", "not a url", "https://0.0.0.0/"} {
		res := s.Do("POST", "/v1/webhook-endpoints", admin, map[string]any{"url": url, "events": []string{"*"}})
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"url"`) {
			t.Errorf("%s: %d %s, want 400 naming url", url, res.Status, res.Body)
		}
	}
	for _, body := range []map[string]any{
		{"url": "https://93.184.216.34/hook", "events": []string{}},
		{"url": "https://93.184.216.34/hook", "events": []string{"points.earnt"}},
		{"url": "https://93.184.216.34/hook", "events": []string{"*", "points.earned"}},
	} {
		if res := s.Do("POST", "/v1/webhook-endpoints", admin, body); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"events`) {
			t.Errorf("%v: %d %s, want 400 naming events", body, res.Status, res.Body)
		}
	}
	// A public address is accepted (nothing is sent to it in this test: no event is subscribed to).
	res := s.Do("POST", "/v1/webhook-endpoints", admin, map[string]any{"url": "https://93.184.216.34/hook", "events": []string{domain.EventCampaignEnded}})
	if res.Status != http.StatusCreated {
		t.Fatalf("public endpoint: %d %s", res.Status, res.Body)
	}

	// At dial time: the stored URL points at a loopback receiver, as a rebinding name would.
	rc := newWebhookReceiver(t)
	ctx := context.Background()
	ep, err := s.Store.CreateWebhookEndpoint(ctx, domain.WebhookEndpoint{ID: uuid.NewString(), URL: rc.srv.URL, Events: []string{"*"}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rc.setSecrets(ep.Secret)
	adjust(t, s, newMember(t, s), "rebinding", 1)
	// Wake it as the API would have when it was made.
	if res := s.Do("PATCH", "/v1/webhook-endpoints/"+ep.ID, admin, map[string]any{"enabled": true}); res.Status != http.StatusOK {
		t.Fatalf("enable: %d %s", res.Status, res.Body)
	}
	waitFor(t, 30*time.Second, "the refused attempt in the log", func() bool {
		for _, l := range deliveryLog(t, s, ep.ID) {
			if l.Attempts > 0 && strings.Contains(l.LastError, "public addresses only") {
				return true
			}
		}
		return false
	})
	if n := len(rc.delivered()); n != 0 {
		t.Errorf("the loopback receiver got %d deliveries", n)
	}
}

func TestWebhookEndpointsCRUD(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	admin := s.Keys["admin"]
	ep := createEndpoint(t, s, "https://hooks.example.com/a", domain.EventTierChanged)
	res := s.Do("GET", "/v1/webhook-endpoints", admin, nil)
	var page struct {
		Items []endpointAnswer `json:"items"`
	}
	res.Decode(t, &page)
	if res.Status != http.StatusOK || len(page.Items) != 1 || page.Items[0].ID != ep.ID || page.Items[0].Secret != "" {
		t.Fatalf("list: %d %s", res.Status, res.Body)
	}
	res = s.Do("PATCH", "/v1/webhook-endpoints/"+ep.ID, admin, map[string]any{"events": []string{"*"}, "enabled": false})
	var e endpointAnswer
	res.Decode(t, &e)
	if res.Status != http.StatusOK || e.Enabled || fmt.Sprint(e.Events) != "[*]" {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	if res := s.Do("PATCH", "/v1/webhook-endpoints/"+ep.ID, admin, map[string]any{"url": "ftp://x"}); res.Status != http.StatusBadRequest {
		t.Errorf("patch with a bad url: %d %s", res.Status, res.Body)
	}
	if res := s.Do("DELETE", "/v1/webhook-endpoints/"+ep.ID, admin, nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	for _, path := range []string{"/v1/webhook-endpoints/" + ep.ID, "/v1/webhook-endpoints/" + ep.ID + "/deliveries", "/v1/webhook-endpoints/not-an-id"} {
		if res := s.Do("GET", path, admin, nil); res.Status != http.StatusNotFound {
			t.Errorf("GET %s after delete: %d %s", path, res.Status, res.Body)
		}
	}
}
