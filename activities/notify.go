package activities

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/perkflow/perkflow/domain"
)

// Message is a rendered notification ready for a provider.
type Message struct {
	// Key is the notification's deterministic key; providers that support it use it to drop duplicates.
	Key     string
	Channel string // "email" or "sms"
	To      string
	Subject string
	Body    string
}

// Notifier sends messages through a provider and returns the provider's message id.
type Notifier interface {
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// LogNotifier is the development notifier: it writes what it would send to the log, with the recipient masked and
// without the body, since both carry personal data.
type LogNotifier struct {
	Log *slog.Logger
}

// Send logs the message.
func (n LogNotifier) Send(_ context.Context, m Message) (string, error) {
	n.Log.Info("notification (log provider)", "key", m.Key, "channel", m.Channel, "to", MaskRecipient(m.To), "subject", m.Subject)
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

// SendNotification renders a notification for its member and sends it on the first channel the member consented
// to. A member who consented to nothing, or was erased, gets nothing.
func (a *Activities) SendNotification(ctx context.Context, n domain.Notification) error {
	m, err := a.Store.GetMember(ctx, n.MemberID)
	if err != nil {
		return classify(err)
	}
	if m.Status != domain.MemberActive {
		return nil
	}
	msg, ok := render(n, m)
	if !ok {
		a.Log.Info("notification skipped: no consented channel", "key", n.Key)
		return nil
	}
	if _, err := a.Notifier.Send(ctx, msg); err != nil {
		return fmt.Errorf("send %s: %w", n.Key, err)
	}
	return nil
}

func render(n domain.Notification, m domain.Member) (Message, bool) {
	subject, body := "", ""
	switch n.Template {
	case domain.TemplateWelcome:
		subject = "Welcome to the program"
		body = fmt.Sprintf("Hello %s, welcome! Every purchase now earns you points.", m.Name)
	default:
		subject, body = n.Template, n.Template
	}
	switch {
	case m.Consent.Email && m.Email != "":
		return Message{Key: n.Key, Channel: "email", To: m.Email, Subject: subject, Body: body}, true
	case m.Consent.SMS && m.Phone != "":
		return Message{Key: n.Key, Channel: "sms", To: m.Phone, Body: body}, true
	}
	return Message{}, false
}
