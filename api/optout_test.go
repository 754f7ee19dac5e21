package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
)

// TestExportHoldsEveryTableThatNamesAMember: the export has a part for every table with a member_id column (as
// information_schema lists them), and holds the member's own rows.
func TestExportHoldsEveryTableThatNamesAMember(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	id := registerFull(t, s, "export.me@example.com", "+33612345673", "Export Me", "1970-05-05")
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], basketPurchase("T-EXP-1", id, line("BOOK", "books", 1, 2_000))), http.StatusCreated, "purchase")
	rows, err := s.DB.Pool.Query(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'member_id' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("information_schema lists %v", tables)
	}
	res := s.Do("GET", "/v1/members/"+id+"/export", s.MemberToken(id), nil)
	mustStatus(t, res, http.StatusOK, "export")
	var doc map[string]any
	res.Decode(t, &doc)
	exported := map[string]bool{}
	for _, sec := range store.ExportSections {
		exported[sec.Table] = true
		if _, ok := doc[sec.Name]; !ok {
			t.Errorf("the export has no %q part (table %s)", sec.Name, sec.Table)
		}
	}
	for _, tbl := range tables {
		if !exported[tbl] {
			t.Errorf("table %s has a member_id column, and the export leaves it out (store.ExportSections)", tbl)
		}
	}
	if p := doc["member"].(map[string]any); p["email"] != "export.me@example.com" || p["name"] != "Export Me" {
		t.Errorf("member part: %v", p)
	}
	if txs := doc["transactions"].([]any); len(txs) != 1 || txs[0].(map[string]any)["transaction_id"] != "T-EXP-1" {
		t.Errorf("transactions part: %v", doc["transactions"])
	}
	if es := doc["ledger_entries"].([]any); len(es) == 0 {
		t.Error("no ledger entries exported")
	}
	if res := s.Do("GET", "/v1/members/"+id+"/export", s.MemberToken(register(t, s, "export-other@example.com")), nil); res.Status != http.StatusNotFound {
		t.Errorf("another member's export: %d, want 404", res.Status)
	}
}

func unsubscribeStack(t *testing.T) (*itest.Stack, domain.Unsubscriber) {
	u := domain.Unsubscriber{Secret: []byte("api-test-unsubscribe-secret-0123456789"), BaseURL: "https://loyalty.example.com"}
	return itest.NewStack(t, temporal, itest.Options{Unsubscribe: u, TwilioAuthToken: "twilio-test-auth-token", PublicURL: "https://loyalty.example.com"}), u
}

// TestOneClickUnsubscribeTurnsTheChannelOff: the RFC 8058 one-click post of an email's link, and the JSON form,
// turn that channel's consent off (the other stays); a forged, altered, expired or missing token → 400 and nothing
// changes.
func TestOneClickUnsubscribeTurnsTheChannelOff(t *testing.T) {
	s, u := unsubscribeStack(t)
	ctx := context.Background()
	id := registerFull(t, s, "unsub.me@example.com", "+33612345674", "Unsub Me", "1980-01-01")
	now := time.Now()
	bad := map[string]string{
		"forged":   domain.Unsubscriber{Secret: []byte("another-secret-another-secret-another")}.Token(id, domain.ChannelEmail, now),
		"altered":  strings.Replace(u.Token(id, domain.ChannelEmail, now), "A", "B", 1) + "x",
		"expired":  domain.Unsubscriber{Secret: u.Secret, TTL: time.Minute}.Token(id, domain.ChannelEmail, now.Add(-2*time.Minute)),
		"garbage":  "not-a-token",
		"too long": strings.Repeat("a", 600),
	}
	for what, tok := range bad {
		if r := s.Do("POST", "/v1/unsubscribe", "", map[string]string{"token": tok}); r.Status != http.StatusBadRequest {
			t.Errorf("%s token: %d %s, want 400", what, r.Status, r.Body)
		}
	}
	if r := s.Do("POST", "/v1/unsubscribe", "", `{}`); r.Status != http.StatusBadRequest {
		t.Errorf("no token: %d", r.Status)
	}
	if m, _ := s.Store.GetMember(ctx, id); !m.Consent.Email || !m.Consent.SMS {
		t.Fatalf("a refused token changed consent: %+v", m.Consent)
	}
	// The mail client's one-click post: the link's URL, the form body of RFC 8058.
	link, err := url.Parse(u.Link(id, domain.ChannelEmail, now))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Do("POST", "/v1/unsubscribe?"+link.RawQuery, "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded")
	mustStatus(t, r, http.StatusOK, "one-click")
	if m, _ := s.Store.GetMember(ctx, id); m.Consent.Email || !m.Consent.SMS {
		t.Fatalf("after one-click: %+v, want email off and sms on", m.Consent)
	}
	mustStatus(t, s.Do("POST", "/v1/unsubscribe?"+link.RawQuery, "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded"), http.StatusOK, "again")
	mustStatus(t, s.Do("POST", "/v1/unsubscribe", "", map[string]string{"token": u.Token(id, domain.ChannelSMS, now)}), http.StatusOK, "json")
	if m, _ := s.Store.GetMember(ctx, id); m.Consent.Email || m.Consent.SMS {
		t.Fatalf("after both: %+v", m.Consent)
	}
}

// twilioSignature is Twilio's X-Twilio-Signature of a form post to u, computed here from the documented algorithm
// (HMAC-SHA1 of the URL followed by each parameter's name and value, sorted by name, base64).
func twilioSignature(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := u
	for _, k := range keys {
		b += k + form.Get(k)
	}
	h := hmac.New(sha1.New, []byte(token))
	h.Write([]byte(b))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// TestTwilioStopTurnsSMSConsentOff: an inbound STOP signed by Twilio turns SMS consent off for the sender's number
// (email stays on); a message that is not an opt-out changes nothing; a bad or missing signature → 403. The
// signature is checked by twilio-go's RequestValidator; the test signs by Twilio's documented algorithm.
func TestTwilioStopTurnsSMSConsentOff(t *testing.T) {
	s, _ := unsubscribeStack(t)
	ctx := context.Background()
	id := registerFull(t, s, "stop.me@example.com", "+33612345675", "Stop Me", "1980-01-01")
	const hook = "https://loyalty.example.com/v1/webhooks/twilio"
	post := func(form url.Values, sig string) itest.Response {
		return s.Do("POST", "/v1/webhooks/twilio", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", sig)
	}
	stop := url.Values{"From": {"+33612345675"}, "To": {"+15005550006"}, "Body": {" stop "}, "MessageSid": {"SM1"}}
	for what, sig := range map[string]string{"missing": "", "bad": "c2lnbmF0dXJl", "another token's": twilioSignature("other-token", hook, stop)} {
		if r := post(stop, sig); r.Status != http.StatusForbidden {
			t.Errorf("%s signature: %d %s, want 403", what, r.Status, r.Body)
		}
	}
	hello := url.Values{"From": {"+33612345675"}, "Body": {"hello"}}
	mustStatus(t, post(hello, twilioSignature("twilio-test-auth-token", hook, hello)), http.StatusNoContent, "hello")
	if m, _ := s.Store.GetMember(ctx, id); !m.Consent.SMS {
		t.Fatal("consent changed by an unsigned STOP or a plain message")
	}
	mustStatus(t, post(stop, twilioSignature("twilio-test-auth-token", hook, stop)), http.StatusNoContent, "STOP")
	if m, _ := s.Store.GetMember(ctx, id); m.Consent.SMS || !m.Consent.Email {
		t.Fatalf("after STOP: %+v, want sms off, email on", m.Consent)
	}
}
