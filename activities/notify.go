package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Message is a rendered notification ready for a provider.
type Message struct {
	// Key is the notification's deterministic key; providers that support it use it to drop duplicates.
	Key     string
	Channel string // domain.ChannelEmail or domain.ChannelSMS
	To      string
	Subject string
	Body    string
	// Headers are the email's extra headers (List-Unsubscribe and List-Unsubscribe-Post, RFC 8058).
	Headers map[string]string
}

// Notifier sends messages through a provider and returns the provider's message id. A provider's refusal is a
// *ProviderError, which says whether trying again may help.
type Notifier interface {
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// ProviderError is a provider's answer other than success. Status is the HTTP status (0 when no answer came).
type ProviderError struct {
	Provider string
	Status   int
	Message  string
	// Unknown is true when the request was sent but no answer came (a timeout, a cut connection): the provider may
	// have taken the message, so it is not sent again.
	Unknown bool
	// RetryAfter is how long the provider asked to wait before trying again (its Retry-After header), 0 when it
	// did not say.
	RetryAfter time.Duration
}

// maxRetryAfter bounds the wait a provider's Retry-After can impose on one retry.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header — delay seconds or an HTTP date (RFC 9110) — as a wait of at most
// limit (a provider's on one retry: maxRetryAfter; a webhook receiver's: domain.WebhookMaxRetryAfter). Unreadable or
// past → 0.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(limit/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}

func (e *ProviderError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: no answer: %s", e.Provider, e.Message)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Provider, e.Status, e.Message)
}

// Retryable reports whether the message may still go through later: rate limits (429), provider outages (5xx) and
// no answer at all. Other 4xx (a bad number, a refused address, bad credentials) fail the message for good.
func (e *ProviderError) Retryable() bool {
	return !e.Unknown && (e.Status == 0 || e.Status == 429 || e.Status >= 500)
}

// transportError classifies an error without an HTTP answer: safe to retry when the request never left, unknown
// otherwise.
func transportError(provider string, err error, wrote *atomic.Bool) *ProviderError {
	return &ProviderError{Provider: provider, Message: err.Error(), Unknown: wrote.Load()}
}

// traceWrites returns a context that records whether a request was written to the provider.
func traceWrites(ctx context.Context) (context.Context, *atomic.Bool) {
	var wrote atomic.Bool
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}), &wrote
}

// retryable reports whether err from a notifier is worth retrying; errors that are not provider errors are.
func retryable(err error) bool {
	var pe *ProviderError
	return !errors.As(err, &pe) || pe.Retryable()
}

// Channels routes each message to the notifier of its channel; a channel without one goes to Fallback.
type Channels struct {
	Email, SMS, Fallback Notifier
}

// Send sends m on its channel's notifier.
func (c Channels) Send(ctx context.Context, m Message) (string, error) {
	n := c.Fallback
	switch {
	case m.Channel == domain.ChannelEmail && c.Email != nil:
		n = c.Email
	case m.Channel == domain.ChannelSMS && c.SMS != nil:
		n = c.SMS
	}
	if n == nil {
		return "", &ProviderError{Provider: "none", Status: 501, Message: "no provider for channel " + m.Channel}
	}
	return n.Send(ctx, m)
}

// LogNotifier is the development notifier: it writes what it would send to the log, with the recipient masked and
// without the body, since both carry personal data.
type LogNotifier struct {
	Log *slog.Logger
}

// Send logs the message.
func (n LogNotifier) Send(ctx context.Context, m Message) (string, error) {
	n.Log.InfoContext(ctx, "notification (log provider)", "key", m.Key, "channel", m.Channel, "to", MaskRecipient(m.To), "subject", m.Subject)
	return "log:" + m.Key, nil
}

// MaskRecipient hides all but the first character and the domain of an email, and all but the last two digits of a
// phone number, so that logs can tell recipients apart without holding personal data.
func MaskRecipient(to string) string {
	if at := strings.LastIndexByte(to, '@'); at > 0 {
		return to[:1] + "***@" + to[at+1:]
	}
	if len(to) > 2 {
		return "***" + to[len(to)-2:]
	}
	return "***"
}

// SendNotification renders a notification for its member and sends it on a channel the member consented to (the one
// asked for in Data["channel"] when consented, else email, else SMS). It sends each key at most once whatever the
// retries, recording the outcome and the provider's message id in the notifications table. A member who consented
// to nothing, or was erased, gets nothing. A provider's final refusal (4xx other than 429) fails the notification
// without failing the activity, so that no business workflow stops for a message; rate limits and outages fail the
// attempt so that Temporal retries it with backoff.
func (a *Activities) SendNotification(ctx context.Context, n domain.Notification) error {
	_, err := a.sendOne(ctx, n)
	var pe *ProviderError
	if errors.As(err, &pe) {
		// Retryable: the type lets the caller's retry policy tell rate limits from outages; a provider that said
		// when to come back (Retry-After) is retried then, not on the policy's backoff.
		return temporal.NewApplicationErrorWithOptions(err.Error(), fmt.Sprintf("Provider%d", pe.Status),
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: pe.RetryAfter})
	}
	return err
}

// sendOne sends one notification at most once and returns its final status (sent, failed, skipped), or an error
// when a retry may still send it.
func (a *Activities) sendOne(ctx context.Context, n domain.Notification) (string, error) {
	if n.Key == "" || n.MemberID == "" {
		return "", temporal.NewNonRetryableApplicationError("notification needs a key and a member", string(domain.ErrInvalid), nil)
	}
	_, err := a.Store.GetMember(ctx, n.MemberID)
	if domain.CodeOf(err) == domain.ErrNotFound {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), string(domain.ErrNotFound), nil)
	}
	if err != nil {
		return "", classify(err)
	}
	// Before the key is claimed, so that a failure here leaves it free for the retry.
	if n, err = a.withCouponCode(ctx, n); err != nil {
		return "", classify(err)
	}
	proceed, status, err := a.Store.BeginNotification(ctx, n)
	if err != nil || !proceed {
		return status, err
	}
	rec := store.NotificationRecord{Key: n.Key}
	// Composed and sent with the member's row held shared: the consent read is the consent in force until the
	// provider has the message, so a withdrawal answered before this read is honoured and one made meanwhile waits.
	var (
		msg     Message
		ok      bool
		id      string
		sendErr error
	)
	if err := a.Store.LockMemberForSend(ctx, n.MemberID, func(m domain.Member) error {
		if msg, ok = a.compose(n, m); ok {
			id, sendErr = a.Notifier.Send(ctx, msg)
		} else if m.Status != domain.MemberActive {
			rec.Error = "member erased"
		}
		return nil
	}); err != nil {
		return "", classify(err)
	}
	if !ok {
		rec.Status = store.NotificationSkipped
		if rec.Error == "" {
			rec.Error = "no consented channel"
		}
		return rec.Status, a.Store.FinishNotification(ctx, rec)
	}
	rec.Channel = msg.Channel
	switch {
	case sendErr == nil:
		rec.Status, rec.ProviderID, rec.Provider = store.NotificationSent, id, providerOf(id, msg.Channel)
	case retryable(sendErr):
		rec.Status, rec.Error = store.NotificationPending, sendErr.Error()
	default:
		rec.Status, rec.Error = store.NotificationFailed, sendErr.Error()
		a.logger().WarnContext(ctx, "notification refused by the provider", "key", n.Key, "channel", msg.Channel, "error", sendErr)
	}
	// Recording must survive the activity's context ending right after the provider took the message.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := a.Store.FinishNotification(rctx, rec); err != nil {
		return "", err
	}
	a.countNotification(rec, msg.Channel, sendErr)
	if rec.Status == store.NotificationPending {
		return "", sendErr
	}
	return rec.Status, nil
}

// countNotification counts a recorded attempt: sent, refused for good, or unavailable (retried).
func (a *Activities) countNotification(rec store.NotificationRecord, channel string, sendErr error) {
	provider := rec.Provider
	var pe *ProviderError
	if errors.As(sendErr, &pe) {
		provider = pe.Provider
	}
	switch rec.Status {
	case store.NotificationSent:
		a.Metrics.NotificationSent(provider, channel)
	case store.NotificationFailed:
		a.Metrics.NotificationFailed(provider, channel, "refused")
	case store.NotificationPending:
		a.Metrics.NotificationFailed(provider, channel, "unavailable")
	}
}

// withCouponCode puts in the notification's data the coupon code of the redemption its Data names
// (domain.NotificationCouponOf), read from the store now: workflows name the redemption, never the code.
func (a *Activities) withCouponCode(ctx context.Context, n domain.Notification) (domain.Notification, error) {
	redemptionID := n.Data[domain.NotificationCouponOf]
	if redemptionID == "" {
		return n, nil
	}
	code, err := a.Store.RevealCoupon(ctx, redemptionID)
	if err != nil {
		return n, err
	}
	data := maps.Clone(n.Data)
	delete(data, domain.NotificationCouponOf)
	data["code"] = code
	n.Data = data
	return n, nil
}

// providerOf names the provider that took a message, for the record.
func providerOf(id, channel string) string {
	switch {
	case strings.HasPrefix(id, "log:"):
		return "log"
	case channel == domain.ChannelSMS:
		return "twilio"
	}
	return "sendgrid"
}

func (a *Activities) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// compose is compose with the program's opt-out at the end of every SMS, and an unsubscribe link on every email
// (List-Unsubscribe with a signed, expiring token, and List-Unsubscribe-Post for one-click, RFC 8058).
func (a *Activities) compose(n domain.Notification, m domain.Member) (Message, bool) {
	msg, ok := compose(n, m)
	if !ok {
		return msg, false
	}
	switch msg.Channel {
	case domain.ChannelSMS:
		optOut := a.SMSOptOut
		if optOut == "" {
			optOut = domain.DefaultSMSOptOut
		}
		msg.Body = strings.TrimSpace(msg.Body) + " " + optOut
	case domain.ChannelEmail:
		if a.Unsubscribe.Enabled() {
			link := a.Unsubscribe.Link(m.MemberID, domain.ChannelEmail, time.Now())
			msg.Headers = map[string]string{
				"List-Unsubscribe":      "<" + link + ">",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			}
			msg.Body = strings.TrimSpace(msg.Body) + "\n\nTo stop receiving these emails: " + link
		}
	}
	return msg, true
}

// compose picks the channel and renders the message; ok is false when the member may not be messaged.
func compose(n domain.Notification, m domain.Member) (Message, bool) {
	if m.Status != domain.MemberActive {
		return Message{}, false
	}
	email := m.Consent.Email && m.Email != ""
	sms := m.Consent.SMS && m.Phone != ""
	var ch string
	switch want := n.Data["channel"]; {
	case want == domain.ChannelEmail && email, want == domain.ChannelSMS && sms:
		ch = want
	case want != "" && want != domain.ChannelEmail && want != domain.ChannelSMS:
		return Message{}, false
	case want != "":
		return Message{}, false // the channel asked for is not consented: never fall back to another
	case email:
		ch = domain.ChannelEmail
	case sms:
		ch = domain.ChannelSMS
	default:
		return Message{}, false
	}
	r := domain.Render(n, m)
	if ch == domain.ChannelSMS {
		return Message{Key: n.Key, Channel: ch, To: m.Phone, Body: r.Body}, true
	}
	return Message{Key: n.Key, Channel: ch, To: m.Email, Subject: r.Subject, Body: r.Body}, true
}
