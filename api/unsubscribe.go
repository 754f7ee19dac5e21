package api

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/perkflow/perkflow/domain"
)

// Opting out without an account: POST /v1/unsubscribe from the link in an email (RFC 8058 one-click) and POST
// /v1/webhooks/twilio for an inbound SMS STOP. Neither takes a bearer token: the link's signed token, and Twilio's
// X-Twilio-Signature, are the authority.

// maxOptOutBody bounds the body of both routes: a token, or one inbound SMS's form.
const maxOptOutBody = 64 << 10

// unsubscribe turns off the consent of the channel a signed unsubscribe token names. The token comes in a JSON body
// {token}, or in the query of a one-click form post (List-Unsubscribe=One-Click). A forged, malformed or expired
// token → 400, nothing changed. The member being erased (or unknown) answers as if done: there is nothing to send
// them.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOptOutBody))
	if err != nil {
		fail(w, r, problem(errBodyTooLarge, "the body must be at most 64 KiB"))
		return
	}
	token := r.URL.Query().Get("token")
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("List-Unsubscribe") != "One-Click" {
			fail(w, r, problem(domain.ErrInvalid, "a one-click unsubscribe posts List-Unsubscribe=One-Click",
				domain.FieldError{Field: "List-Unsubscribe", Message: "must be One-Click"}))
			return
		}
	case mt == "application/json" || (mt == "" && len(strings.TrimSpace(string(body))) > 0):
		var req struct {
			Token string `json:"token"`
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, r, problem(domain.ErrInvalid, "send {\"token\": \"…\"}", domain.FieldError{Field: "token", Message: "is required"}))
			return
		}
		if req.Token != "" {
			token = req.Token
		}
	case mt != "":
		fail(w, r, problem(errUnsupportedMedia, "send the token as application/json, or the one-click form"))
		return
	}
	if token == "" {
		fail(w, r, problem(domain.ErrInvalid, "the unsubscribe token is missing", domain.FieldError{Field: "token", Message: "is required"}))
		return
	}
	memberID, channel, err := s.cfg.Unsubscribe.Verify(token, s.now())
	if err != nil {
		fail(w, r, problem(domain.ErrInvalid, "the unsubscribe token is not valid or has expired",
			domain.FieldError{Field: "token", Message: "is not valid or has expired"}))
		return
	}
	if _, err := s.cfg.Store.SetConsent(r.Context(), memberID, channel, false); err != nil && domain.CodeOf(err) != domain.ErrNotFound {
		fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "unsubscribed", "member_id", memberID, "channel", channel)
	writeJSON(w, http.StatusOK, map[string]any{"channel": channel, "consent": false})
}

// twilioOptOutWords are the bodies Twilio itself treats as an opt-out (compared case-insensitively, trimmed).
var twilioOptOutWords = map[string]bool{
	"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true, "REVOKE": true, "OPTOUT": true,
}

// twilioInbound takes Twilio's inbound-message webhook: verified by X-Twilio-Signature over the public URL of the
// route and the form (bad → 403), an opt-out keyword turns SMS consent off for the members holding the sender's
// number. Answers 204 (no reply: Twilio sends the carrier-mandated confirmation itself).
func (s *Server) twilioInbound(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOptOutBody))
	if err != nil {
		fail(w, r, problem(errBodyTooLarge, "the body must be at most 64 KiB"))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail(w, r, problem(domain.ErrInvalid, "the body is not a form"))
		return
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		params[k] = strings.Join(v, "")
	}
	u := strings.TrimRight(s.cfg.PublicURL, "/") + r.URL.RequestURI()
	rv := twilioclient.NewRequestValidator(s.cfg.TwilioAuthToken)
	if s.cfg.TwilioAuthToken == "" || s.cfg.PublicURL == "" || !rv.Validate(u, params, r.Header.Get("X-Twilio-Signature")) {
		fail(w, r, problem(domain.ErrForbidden, "the X-Twilio-Signature is missing or does not match"))
		return
	}
	if twilioOptOutWords[strings.ToUpper(strings.TrimSpace(form.Get("Body")))] {
		phone, ok := domain.NormalizePhone(form.Get("From"))
		if ok {
			ids, err := s.cfg.Store.MembersByPhone(r.Context(), phone)
			if err != nil {
				fail(w, r, err) // 500: Twilio delivers it again
				return
			}
			for _, id := range ids {
				if _, err := s.cfg.Store.SetConsent(r.Context(), id, domain.ChannelSMS, false); err != nil && domain.CodeOf(err) != domain.ErrNotFound {
					fail(w, r, err)
					return
				}
				s.log.InfoContext(r.Context(), "SMS opt-out", "member_id", id)
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
