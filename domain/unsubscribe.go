package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultUnsubscribeTTL is how long an unsubscribe link stays valid after its message was sent.
const DefaultUnsubscribeTTL = 90 * 24 * time.Hour

// DefaultSMSOptOut is the opt-out text that ends every SMS unless the deployment sets its own.
const DefaultSMSOptOut = "Reply STOP to opt out."

// UnsubscribePath is the API route an unsubscribe link points at (POST, RFC 8058 one-click).
const UnsubscribePath = "/v1/unsubscribe"

// Unsubscriber signs and checks the tokens of unsubscribe links: a token names a member and a channel and expires;
// it is an HMAC-SHA256 under Secret, so nobody without the secret can make one. BaseURL is the public URL of the
// API (PERKFLOW_PUBLIC_URL). The zero value signs nothing (Enabled is false).
type Unsubscriber struct {
	Secret  []byte
	BaseURL string
	// TTL is a token's lifetime (DefaultUnsubscribeTTL when zero).
	TTL time.Duration
}

// Enabled reports whether links can be made and tokens checked.
func (u Unsubscriber) Enabled() bool { return len(u.Secret) > 0 && u.BaseURL != "" }

// Token is the token that turns off channel for memberID, valid until now + TTL.
func (u Unsubscriber) Token(memberID, channel string, now time.Time) string {
	ttl := u.TTL
	if ttl <= 0 {
		ttl = DefaultUnsubscribeTTL
	}
	payload := memberID + "." + channel + "." + strconv.FormatInt(now.Add(ttl).Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(u.mac(payload))
}

// Link is the https link of a message to memberID on channel: the API's unsubscribe route with the token.
func (u Unsubscriber) Link(memberID, channel string, now time.Time) string {
	return strings.TrimRight(u.BaseURL, "/") + UnsubscribePath + "?token=" + url.QueryEscape(u.Token(memberID, channel, now))
}

// Verify checks a token and returns the member and channel it names. A token not signed under Secret, malformed,
// or expired at now → ErrInvalid (the same message for all, so that a forger learns nothing).
func (u Unsubscriber) Verify(token string, now time.Time) (memberID, channel string, err error) {
	bad := Errorf(ErrInvalid, "the unsubscribe token is not valid or has expired")
	if len(u.Secret) == 0 || len(token) > 512 {
		return "", "", bad
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", bad
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, u.mac(string(payload))) {
		return "", "", bad
	}
	parts := strings.Split(string(payload), ".")
	if len(parts) != 3 || !ValidMemberID(parts[0]) || (parts[1] != ChannelEmail && parts[1] != ChannelSMS) {
		return "", "", bad
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return "", "", bad
	}
	return parts[0], parts[1], nil
}

func (u Unsubscriber) mac(payload string) []byte {
	h := hmac.New(sha256.New, u.Secret)
	h.Write([]byte("perkflow-unsubscribe\x00" + payload))
	return h.Sum(nil)
}
