// Package stripefake is a local server that answers as Stripe does, for the tests of the redemption saga: it
// creates, confirms, retrieves, lists and cancels PaymentIntents and creates refunds, honours Idempotency-Key the way Stripe
// does (a replayed key gets the first answer; a 5xx is not stored), declines cards with Stripe's error JSON, asks
// for 3-D Secure (requires_action with next_action), and can be told to fail with 5xx or to stall. It counts what
// matters to the tests: PaymentIntents created and refunds per PaymentIntent.
//
// Payment methods follow Stripe's test tokens: pm_card_visa succeeds, pm_card_chargeDeclined (and
// pm_card_visa_chargeDeclinedInsufficientFunds) are declined, pm_card_threeDSecure2Required asks for authentication.
package stripefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PaymentIntent is the fake's record of one PaymentIntent.
type PaymentIntent struct {
	ID            string
	Amount        int64
	Currency      string
	Status        string
	PaymentMethod string
	Metadata      map[string]string
	Refunds       []string
	Created       int64 // Unix seconds
	seq           int
}

// Server is a fake Stripe API.
type Server struct {
	*httptest.Server

	mu          sync.Mutex
	seq         int
	intents     map[string]*PaymentIntent
	idempotent  map[string]stored
	failNext    int
	stall       time.Duration
	stallNext   int
	created     int
	requests    int
	refundCount int
}

type stored struct {
	status int
	body   []byte
}

// Start runs a fake Stripe on a loopback port; Close it when done.
func Start() *Server {
	s := &Server{intents: map[string]*PaymentIntent{}, idempotent: map[string]stored{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// FailNext makes the next n requests answer 500 api_error, as Stripe does in an outage.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// StallNext makes the next n PaymentIntent creations do their work and then wait d before answering (a worker that
// dies meanwhile never learns the answer).
func (s *Server) StallNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallNext, s.stall = n, d
}

// Created is how many PaymentIntents were created (charges attempted, whatever the retries).
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Requests is how many requests the fake received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RefundCount is how many refunds were created in all.
func (s *Server) RefundCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refundCount
}

// Intents returns a copy of every PaymentIntent, in creation order.
func (s *Server) Intents() []PaymentIntent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PaymentIntent, 0, len(s.intents))
	for i := 1; i <= s.seq; i++ {
		if pi, ok := s.intents[fmt.Sprintf("pi_fake_%d", i)]; ok {
			c := *pi
			c.Refunds = append([]string(nil), pi.Refunds...)
			out = append(out, c)
		}
	}
	return out
}

// Authenticate completes (ok) or fails 3-D Secure for a PaymentIntent that requires_action, as the member's
// browser would; it returns the PaymentIntent as JSON, for a webhook event.
func (s *Server) Authenticate(id string, ok bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, found := s.intents[id]
	if !found || pi.Status != "requires_action" {
		return nil, fmt.Errorf("payment intent %s cannot be authenticated", id)
	}
	if ok {
		pi.Status = "succeeded"
	} else {
		pi.Status = "requires_payment_method"
	}
	return json.Marshal(s.intentJSON(pi))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer sk_") {
		writeError(w, http.StatusUnauthorized, map[string]any{"type": "invalid_request_error", "message": "Invalid API Key provided"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "message": "malformed form"})
		return
	}
	s.mu.Lock()
	s.requests++
	if s.failNext > 0 {
		s.failNext--
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, map[string]any{"type": "api_error", "message": "An unknown error occurred"})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" && r.Method == http.MethodPost {
		if st, ok := s.idempotent[r.URL.Path+"|"+key]; ok {
			s.mu.Unlock()
			w.Header().Set("Idempotent-Replayed", "true")
			writeRaw(w, st.status, st.body)
			return
		}
	}
	status, body, stall := s.route(r)
	if key != "" && r.Method == http.MethodPost && status < 500 {
		s.idempotent[r.URL.Path+"|"+key] = stored{status, body}
	}
	s.mu.Unlock()
	if stall > 0 {
		select {
		case <-time.After(stall):
		case <-r.Context().Done():
		}
	}
	writeRaw(w, status, body)
}

// route does the work of one request under the lock and returns the answer.
func (s *Server) route(r *http.Request) (int, []byte, time.Duration) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "payment_intents":
		return s.createIntent(r)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "payment_intents":
		return s.listIntents(r)
	case r.Method == http.MethodGet && len(parts) == 3 && parts[1] == "payment_intents":
		pi, ok := s.intents[parts[2]]
		if !ok {
			return missing("payment_intent", parts[2])
		}
		return jsonBody(http.StatusOK, s.intentJSON(pi))
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "payment_intents" && parts[3] == "cancel":
		pi, ok := s.intents[parts[2]]
		if !ok {
			return missing("payment_intent", parts[2])
		}
		if pi.Status == "succeeded" || pi.Status == "canceled" {
			return errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
				"message": "You cannot cancel this PaymentIntent because it has a status of " + pi.Status + "."})
		}
		pi.Status = "canceled"
		return jsonBody(http.StatusOK, s.intentJSON(pi))
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "refunds":
		id := r.PostForm.Get("payment_intent")
		pi, ok := s.intents[id]
		if !ok {
			return missing("payment_intent", id)
		}
		if pi.Status != "succeeded" {
			return errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
				"message": "This PaymentIntent does not have a successful charge to refund."})
		}
		if len(pi.Refunds) > 0 {
			return errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "code": "charge_already_refunded",
				"message": "Charge " + strings.Replace(pi.ID, "pi_", "ch_", 1) + " has already been refunded."})
		}
		s.seq++
		re := fmt.Sprintf("re_fake_%d", s.seq)
		pi.Refunds = append(pi.Refunds, re)
		s.refundCount++
		return jsonBody(http.StatusOK, map[string]any{"id": re, "object": "refund", "amount": pi.Amount, "currency": pi.Currency,
			"payment_intent": pi.ID, "status": "succeeded", "created": time.Now().Unix()})
	}
	return errorBody(http.StatusNotFound, map[string]any{"type": "invalid_request_error", "message": "Unrecognized request URL (" + r.Method + ": " + r.URL.Path + ")."})
}

func (s *Server) createIntent(r *http.Request) (int, []byte, time.Duration) {
	f := r.PostForm
	amount, err := strconv.ParseInt(f.Get("amount"), 10, 64)
	if err != nil || amount <= 0 {
		return errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "code": "parameter_invalid_integer", "param": "amount",
			"message": "Invalid positive integer"})
	}
	if f.Get("currency") == "" {
		return errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "code": "parameter_missing", "param": "currency",
			"message": "Missing required param: currency."})
	}
	s.seq++
	s.created++
	pi := &PaymentIntent{ID: fmt.Sprintf("pi_fake_%d", s.seq), Amount: amount, Currency: f.Get("currency"),
		PaymentMethod: f.Get("payment_method"), Status: "requires_payment_method", Metadata: map[string]string{},
		Created: time.Now().Unix(), seq: s.seq}
	for k, v := range f {
		if strings.HasPrefix(k, "metadata[") && len(v) > 0 {
			pi.Metadata[strings.TrimSuffix(strings.TrimPrefix(k, "metadata["), "]")] = v[0]
		}
	}
	s.intents[pi.ID] = pi
	var stall time.Duration
	if s.stallNext > 0 {
		s.stallNext--
		stall = s.stall
	}
	if f.Get("confirm") != "true" {
		code, body, _ := jsonBody(http.StatusOK, s.intentJSON(pi))
		return code, body, stall
	}
	switch pi.PaymentMethod {
	case "pm_card_visa", "pm_card_mastercard":
		pi.Status = "succeeded"
	case "pm_card_threeDSecure2Required", "pm_card_authenticationRequired":
		pi.Status = "requires_action"
	case "pm_card_chargeDeclined", "pm_card_visa_chargeDeclinedInsufficientFunds":
		decline := "generic_decline"
		if strings.Contains(pi.PaymentMethod, "Insufficient") {
			decline = "insufficient_funds"
		}
		code, body, _ := errorBody(http.StatusPaymentRequired, map[string]any{"type": "card_error", "code": "card_declined",
			"decline_code": decline, "message": "Your card was declined.", "payment_intent": s.intentJSON(pi),
			"request_log_url": "https://dashboard.stripe.com/test/logs/req_fake"})
		return code, body, stall
	default:
		code, body, _ := errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "code": "resource_missing",
			"param": "payment_method", "message": "No such PaymentMethod: '" + pi.PaymentMethod + "'"})
		return code, body, stall
	}
	code, body, _ := jsonBody(http.StatusOK, s.intentJSON(pi))
	return code, body, stall
}

// listIntents lists PaymentIntents newest first, as Stripe does, with created[gte|gt|lte|lt], limit (10 by default,
// at most 100) and starting_after.
func (s *Server) listIntents(r *http.Request) (int, []byte, time.Duration) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, err = 10, nil
	}
	if err != nil || limit < 1 || limit > 100 {
		return errorBody(http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "param": "limit",
			"message": "This value must be between 1 and 100."})
	}
	bound := func(k string) (int64, bool) {
		v, err := strconv.ParseInt(q.Get("created["+k+"]"), 10, 64)
		return v, err == nil
	}
	after := s.seq + 1
	if id := q.Get("starting_after"); id != "" {
		pi, ok := s.intents[id]
		if !ok {
			return missing("payment_intent", id)
		}
		after = pi.seq
	}
	data := []any{}
	more := false
	for i := after - 1; i >= 1; i-- {
		pi, ok := s.intents[fmt.Sprintf("pi_fake_%d", i)]
		if !ok {
			continue
		}
		if v, ok := bound("gte"); ok && pi.Created < v {
			continue
		}
		if v, ok := bound("gt"); ok && pi.Created <= v {
			continue
		}
		if v, ok := bound("lte"); ok && pi.Created > v {
			continue
		}
		if v, ok := bound("lt"); ok && pi.Created >= v {
			continue
		}
		if len(data) == limit {
			more = true
			break
		}
		data = append(data, s.intentJSON(pi))
	}
	return jsonBody(http.StatusOK, map[string]any{"object": "list", "url": "/v1/payment_intents", "has_more": more, "data": data})
}

func (s *Server) intentJSON(pi *PaymentIntent) map[string]any {
	m := map[string]any{"id": pi.ID, "object": "payment_intent", "amount": pi.Amount, "currency": pi.Currency,
		"status": pi.Status, "client_secret": pi.ID + "_secret_fake", "payment_method": pi.PaymentMethod,
		"metadata": pi.Metadata, "livemode": false, "created": pi.Created}
	if pi.Status == "requires_action" {
		m["next_action"] = map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{"type": "three_d_secure_redirect"}}
	}
	if pi.Status == "succeeded" {
		m["latest_charge"] = strings.Replace(pi.ID, "pi_", "ch_", 1)
		m["amount_received"] = pi.Amount
	}
	return m
}

func missing(kind, id string) (int, []byte, time.Duration) {
	return errorBody(http.StatusNotFound, map[string]any{"type": "invalid_request_error", "code": "resource_missing", "param": "id",
		"message": "No such " + kind + ": '" + id + "'"})
}

func jsonBody(status int, v any) (int, []byte, time.Duration) {
	b, _ := json.Marshal(v)
	return status, b, 0
}

func errorBody(status int, e map[string]any) (int, []byte, time.Duration) {
	return jsonBody(status, map[string]any{"error": e})
}

func writeError(w http.ResponseWriter, status int, e map[string]any) {
	_, b, _ := errorBody(status, e)
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
