package activities

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// recordTimeout bounds writing a notification's outcome after the provider answered.
const recordTimeout = 10 * time.Second

// SendGrid sends email through the SendGrid v3 mail send API with the official SDK.
type SendGrid struct {
	APIKey string
	// BaseURL is the API's address (https://api.sendgrid.com unless a test points it at a fake).
	BaseURL  string
	From     string
	FromName string
	// HTTP is the client used (default: 10 s timeout).
	HTTP *http.Client
}

// Send sends one email and returns SendGrid's message id (X-Message-Id).
func (s *SendGrid) Send(ctx context.Context, m Message) (string, error) {
	from := mail.NewEmail(s.FromName, s.From)
	msg := mail.NewSingleEmailPlainText(from, m.Subject, mail.NewEmail("", m.To), m.Body)
	// The key travels with the message, so that SendGrid's events can be matched to the notification.
	msg.SetCustomArg("notification_key", m.Key)
	for k, v := range m.Headers {
		msg.SetHeader(k, v)
	}
	req := sendgrid.GetRequest(s.APIKey, "/v3/mail/send", strings.TrimRight(s.BaseURL, "/"))
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(msg)
	hc := s.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	tctx, wrote := traceWrites(ctx)
	resp, err := (&rest.Client{HTTPClient: hc}).SendWithContext(tctx, req)
	if err != nil {
		return "", transportError("sendgrid", err, wrote)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return "", &ProviderError{Provider: "sendgrid", Status: resp.StatusCode, Message: truncate(resp.Body, 300),
			RetryAfter: parseRetryAfter(firstHeader(resp.Headers, "Retry-After"), time.Now(), maxRetryAfter)}
	}
	return firstHeader(resp.Headers, "X-Message-Id"), nil
}

func firstHeader(h map[string][]string, name string) string {
	return http.Header(h).Get(name)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
