package activities

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Twilio sends SMS through Twilio's Messages API with the official SDK.
type Twilio struct {
	AccountSID string
	AuthToken  string
	From       string
	// BaseURL, when set, replaces https://api.twilio.com (tests point it at a fake).
	BaseURL string
	// Transport is the HTTP transport used (default http.DefaultTransport).
	Transport http.RoundTripper
}

// Send sends one SMS and returns Twilio's message SID.
func (t *Twilio) Send(ctx context.Context, m Message) (string, error) {
	tctx, wrote := traceWrites(ctx)
	rt := &twilioTransport{ctx: tctx, next: t.Transport}
	if rt.next == nil {
		rt.next = http.DefaultTransport
	}
	if t.BaseURL != "" {
		u, err := url.Parse(t.BaseURL)
		if err != nil {
			return "", &ProviderError{Provider: "twilio", Status: 400, Message: "TWILIO_API_BASE: " + err.Error()}
		}
		rt.base = u
	}
	hc := &twclient.Client{Credentials: twclient.NewCredentials(t.AccountSID, t.AuthToken),
		HTTPClient: &http.Client{Transport: rt, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	hc.SetAccountSid(t.AccountSID)
	c := twilio.NewRestClientWithParams(twilio.ClientParams{Client: hc})
	p := &openapi.CreateMessageParams{}
	p.SetTo(m.To)
	p.SetFrom(t.From)
	p.SetBody(m.Body)
	res, err := c.Api.CreateMessage(p)
	if err != nil {
		var te *twclient.TwilioRestError
		switch {
		case errors.As(err, &te):
			return "", &ProviderError{Provider: "twilio", Status: te.Status, Message: te.Message, RetryAfter: rt.retryAfter()}
		case rt.status.Load() != 0: // an answer the SDK could not decode
			return "", &ProviderError{Provider: "twilio", Status: int(rt.status.Load()), Message: err.Error(), RetryAfter: rt.retryAfter()}
		}
		return "", transportError("twilio", err, wrote)
	}
	if res.Sid == nil {
		return "", nil
	}
	return *res.Sid, nil
}

// twilioTransport gives the SDK's requests the activity's context (the SDK takes none), sends them to BaseURL when
// set, and remembers the last status (so that errors without a Twilio body can still be classified) and the last
// Retry-After (which the SDK's error does not carry).
type twilioTransport struct {
	ctx    context.Context
	base   *url.URL
	next   http.RoundTripper
	status atomic.Int64
	after  atomic.Value // string: the last answer's Retry-After
}

func (t *twilioTransport) retryAfter() time.Duration {
	v, _ := t.after.Load().(string)
	return parseRetryAfter(v, time.Now(), maxRetryAfter)
}

func (t *twilioTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(t.ctx)
	if t.base != nil {
		r.URL.Scheme, r.URL.Host = t.base.Scheme, t.base.Host
		r.Host = t.base.Host
	}
	resp, err := t.next.RoundTrip(r)
	if resp != nil {
		t.status.Store(int64(resp.StatusCode))
		t.after.Store(resp.Header.Get("Retry-After"))
	}
	return resp, err
}
