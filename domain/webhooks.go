package domain

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Outbound webhooks tell a merchant's systems (a CRM, an email tool) what happened in the program. An admin
// registers an endpoint (an https URL and the event types it wants); each event is written to an outbox in the
// transaction of the change it reports and delivered to every endpoint that subscribes to it, signed as the
// Standard Webhooks specification v1 says, retried for about three days.

// Webhook event types.
const (
	EventMemberRegistered    = "member.registered"
	EventMemberUpdated       = "member.updated"
	EventMemberErased        = "member.erased"
	EventPointsEarned        = "points.earned"
	EventPointsReturned      = "points.returned"
	EventPointsRedeemed      = "points.redeemed"
	EventPointsAdjusted      = "points.adjusted"
	EventPointsExpired       = "points.expired"
	EventTierChanged         = "tier.changed"
	EventRedemptionCompleted = "redemption.completed"
	EventRedemptionFailed    = "redemption.failed"
	EventRedemptionCancelled = "redemption.cancelled"
	EventChallengeCompleted  = "challenge.completed"
	EventCampaignStarted     = "campaign.started"
	EventCampaignEnded       = "campaign.ended"
	// EventEndpointDisabled tells the admins' other endpoints that an endpoint was disabled (gone, or failing for
	// WebhookFailingLimit).
	EventEndpointDisabled = "webhook_endpoint.disabled"
	// AllWebhookEvents subscribes an endpoint to every type.
	AllWebhookEvents = "*"
)

// WebhookEventTypes are the types an endpoint may subscribe to.
var WebhookEventTypes = []string{
	EventMemberRegistered, EventMemberUpdated, EventMemberErased,
	EventPointsEarned, EventPointsReturned, EventPointsRedeemed, EventPointsAdjusted, EventPointsExpired,
	EventTierChanged, EventRedemptionCompleted, EventRedemptionFailed, EventRedemptionCancelled,
	EventChallengeCompleted, EventCampaignStarted, EventCampaignEnded, EventEndpointDisabled,
}

// LedgerEventType is the webhook event a ledger entry of kind k reports ("" for none: a hold's release gives back
// points the member never lost, a bonus is reported as points earned).
func LedgerEventType(k EntryKind) string {
	switch k {
	case EntryAccrual, EntryBonus:
		return EventPointsEarned
	case EntryReturn:
		return EventPointsReturned
	case EntryRedemption:
		return EventPointsRedeemed
	case EntryAdjustment:
		return EventPointsAdjusted
	case EntryExpiry:
		return EventPointsExpired
	}
	return ""
}

// RedemptionEventType is the webhook event a redemption reaching status reports ("" for none).
func RedemptionEventType(s RedemptionStatus) string {
	switch s {
	case RedemptionCompleted:
		return EventRedemptionCompleted
	case RedemptionFailed:
		return EventRedemptionFailed
	case RedemptionCancelled:
		return EventRedemptionCancelled
	}
	return ""
}

// Delivery limits.
const (
	// WebhookAttemptTimeout bounds one delivery attempt, answer included.
	WebhookAttemptTimeout = 15 * time.Second
	// WebhookFailingLimit is how long an endpoint may fail every delivery before it is disabled.
	WebhookFailingLimit = 72 * time.Hour
	// WebhookMaxBody is the largest body perkflow sends.
	WebhookMaxBody = 20 << 10
	// WebhookMaxRetryAfter caps how long a receiver's Retry-After can put the next attempt off.
	WebhookMaxRetryAfter = 24 * time.Hour
	// WebhookSecretOverlap is how long the previous secret still signs after a rotation.
	WebhookSecretOverlap = 24 * time.Hour
)

// WebhookRetrySchedule is the wait before each retry after a failed attempt: the first attempt at once, then ten
// more over about three days (71 h 35 min in all), each wait moved by up to ±10 % of jitter. After the last, the
// delivery is given up (failed in the log; replay delivers it again).
var WebhookRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 20 * time.Hour,
}

// WebhookEndpoint is a merchant system perkflow delivers events to.
type WebhookEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	// IncludePersonalData adds the member's email, phone and name to events about a member; only an admin can set
	// it. Without it, payloads carry ids and figures only.
	IncludePersonalData bool       `json:"include_personal_data"`
	DisabledAt          *time.Time `json:"disabled_at,omitempty"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	CreatedBy           string     `json:"created_by"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// Subscribes reports whether the endpoint wants events of type t.
func (e WebhookEndpoint) Subscribes(t string) bool {
	return slices.Contains(e.Events, AllWebhookEvents) || slices.Contains(e.Events, t)
}

// ValidateWebhookEvents checks a subscription list: ["*"], or known types.
func ValidateWebhookEvents(events []string) []FieldError {
	if len(events) == 0 {
		return []FieldError{{Field: "events", Message: `name at least one event type, or ["*"] for all`}}
	}
	var errs []FieldError
	for i, t := range events {
		if t == AllWebhookEvents {
			if len(events) > 1 {
				errs = append(errs, FieldError{Field: fmt.Sprintf("events[%d]", i), Message: `"*" stands alone`})
			}
			continue
		}
		if !slices.Contains(WebhookEventTypes, t) {
			errs = append(errs, FieldError{Field: fmt.Sprintf("events[%d]", i), Message: "unknown event type " + strconv.Quote(t)})
		}
	}
	return errs
}

// ParseWebhookURL checks an endpoint URL: absolute https with a host, no user info, at most 2,000 characters.
// allowPrivate (development and tests) also accepts http.
func ParseWebhookURL(raw string, allowPrivate bool) (*url.URL, error) {
	if len(raw) > 2000 {
		return nil, fmt.Errorf("is longer than 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("is not an absolute URL")
	}
	if u.Scheme != "https" && !(allowPrivate && u.Scheme == "http") {
		return nil, fmt.Errorf("must be https")
	}
	if u.User != nil {
		return nil, fmt.Errorf("must not carry a user or password")
	}
	return u, nil
}

// PublicAddress reports whether ip is one webhooks may be sent to: not private, loopback, link-local, multicast,
// unspecified, or in a range reserved for other uses (carrier-grade NAT, benchmarking, documentation, 6to4 relays).
func PublicAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range reservedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var reservedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48",
		"100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// WebhookSecretPrefix begins every endpoint secret.
const WebhookSecretPrefix = "whsec_"

// NewWebhookSecret makes a secret: "whsec_" and the base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// SignWebhook is the Standard Webhooks v1 signature of a delivery: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" keyed with the base64-decoded part of the secret after "whsec_".
func SignWebhook(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, WebhookSecretPrefix))
	if err != nil {
		return "", fmt.Errorf("webhook secret is not base64 after %s", WebhookSecretPrefix)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// WebhookRoundRequest asks for one round of an endpoint's deliveries: the deliveries due now, up to Limit.
type WebhookRoundRequest struct {
	EndpointID string `json:"endpoint_id"`
	Limit      int    `json:"limit,omitempty"`
}

// WebhookRoundResult is what a round did.
type WebhookRoundResult struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	// Stopped: the endpoint is deleted or disabled; its workflow ends (enabling it starts it again).
	Stopped bool `json:"stopped,omitempty"`
	// More: the round took as many as it could; another round is due at once.
	More bool `json:"more,omitempty"`
	// Pending: some delivery waits for a retry, due in NextAttemptIn.
	Pending       bool          `json:"pending,omitempty"`
	NextAttemptIn time.Duration `json:"next_attempt_in,omitempty"`
}
