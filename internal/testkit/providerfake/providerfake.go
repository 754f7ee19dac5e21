// Package providerfake is a local stand-in for the SendGrid v3 mail send API and Twilio's Messages API, for tests
// that drive the real SDKs. It checks authentication, records every request it gets, and answers errors on demand
// (429, 5xx, 4xx) the way the providers shape them.
package providerfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Providers.
const (
	SendGrid = "sendgrid"
	Twilio   = "twilio"
)

// Request is one request the fake received, as the provider would read it.
type Request struct {
	Provider string
	// Auth is the bearer token (SendGrid) or "sid:token" (Twilio basic auth).
	Auth    string
	From    string
	To      []string
	Subject string
	Body    string
	// Key is the notification key SendGrid received as custom_args.notification_key.
	Key string
	// Headers are the email's headers (SendGrid's "headers": List-Unsubscribe, …).
	Headers map[string]string
	// Status is what the fake answered.
	Status int
	// ID is the message id answered on success.
	ID string
}

// Server is the fake. Set Fault to answer errors; it is called for every request with the count of requests of that
// provider so far (1 for the first), and returns the status to answer (0 = success).
type Server struct {
	*httptest.Server
	SendGridKey            string
	TwilioSID, TwilioToken string
	mu                     sync.Mutex
	requests               []Request
	counts                 map[string]int
	Fault                  func(provider string, n int, r Request) int
}

// New starts a fake accepting the given credentials.
func New(sendgridKey, twilioSID, twilioToken string) *Server {
	s := &Server{SendGridKey: sendgridKey, TwilioSID: twilioSID, TwilioToken: twilioToken, counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/mail/send", s.mailSend)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.messages)
	s.Server = httptest.NewServer(mux)
	return s
}

// SetFault replaces the fault function.
func (s *Server) SetFault(f func(provider string, n int, r Request) int) {
	s.mu.Lock()
	s.Fault = f
	s.mu.Unlock()
}

// Requests returns a copy of every request received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Accepted counts the requests of a provider answered with success.
func (s *Server) Accepted(provider string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Provider == provider && r.Status < 300 {
			n++
		}
	}
	return n
}

// record counts the request, asks Fault for an answer and records it.
func (s *Server) record(r Request, ok int) Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[r.Provider]++
	r.Status = ok
	if s.Fault != nil {
		if st := s.Fault(r.Provider, s.counts[r.Provider], r); st != 0 {
			r.Status = st
		}
	}
	if r.Status < 300 {
		r.ID = fmt.Sprintf("%s-%d", r.Provider, s.counts[r.Provider])
	}
	s.requests = append(s.requests, r)
	return r
}

type sgAddress struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

type sgMail struct {
	From             sgAddress `json:"from"`
	Subject          string    `json:"subject"`
	Personalizations []struct {
		To []sgAddress `json:"to"`
	} `json:"personalizations"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	CustomArgs map[string]string `json:"custom_args"`
	Headers    map[string]string `json:"headers"`
}

func (s *Server) mailSend(w http.ResponseWriter, r *http.Request) {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || auth != s.SendGridKey {
		sgError(w, http.StatusUnauthorized, "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	var m sgMail
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil || m.From.Email == "" || len(m.Personalizations) == 0 {
		sgError(w, http.StatusBadRequest, "bad request body")
		return
	}
	req := Request{Provider: SendGrid, Auth: auth, From: m.From.Email, Subject: m.Subject, Key: m.CustomArgs["notification_key"],
		Headers: m.Headers}
	for _, p := range m.Personalizations {
		for _, to := range p.To {
			req.To = append(req.To, to.Email)
		}
	}
	for _, c := range m.Content {
		if c.Type == "text/plain" {
			req.Body = c.Value
		}
	}
	req = s.record(req, http.StatusAccepted)
	if req.Status >= 300 {
		sgError(w, req.Status, http.StatusText(req.Status))
		return
	}
	w.Header().Set("X-Message-Id", req.ID)
	w.WriteHeader(http.StatusAccepted)
}

// RetryAfter is the Retry-After (seconds) the fake sends with a 429, as both providers do.
const RetryAfter = 7

func sgError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", fmt.Sprint(RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "field": nil, "help": nil}}})
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.TwilioSID || pass != s.TwilioToken || r.PathValue("sid") != s.TwilioSID {
		twError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("To") == "" || r.PostForm.Get("Body") == "" {
		twError(w, http.StatusBadRequest, 21604, "A 'To' phone number and a 'Body' are required.")
		return
	}
	req := s.record(Request{Provider: Twilio, Auth: user + ":" + pass, From: r.PostForm.Get("From"), To: []string{r.PostForm.Get("To")},
		Body: r.PostForm.Get("Body")}, http.StatusCreated)
	if req.Status >= 300 {
		twError(w, req.Status, 20000+req.Status, http.StatusText(req.Status))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + req.ID, "status": "queued", "to": req.To[0], "from": req.From,
		"body": req.Body, "account_sid": s.TwilioSID})
}

func twError(w http.ResponseWriter, status, code int, msg string) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", fmt.Sprint(RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "more_info": "https://www.twilio.com/docs/errors/" + fmt.Sprint(code), "status": status})
}
