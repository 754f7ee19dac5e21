package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/privacy"
)

// TestLogsHoldNoSecretsOrPersonalData runs a representative flow — registrations with email and phone, purchases,
// replays, member reads, refused tokens and keys, errors, decodes through the codec endpoint — with the API and the worker logging at debug level as
// JSON, then greps every line for API keys, JWTs, and the emails and phone numbers used.
func TestLogsHoldNoSecretsOrPersonalData(t *testing.T) {
	var sink testkit.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := itest.NewStack(t, temporal, itest.Options{Log: log, WaitBudget: 5 * time.Second, Limits: &api.Limits{
		APIKey: api.Rate{PerSecond: 5, Burst: 40},
	}})
	pos, support := s.Keys["pos"], s.Keys["support"]
	emails := []string{"Ada.Lovelace@Example.com", "grace.hopper+loyalty@example.org", "taken@example.net"}
	phones := []string{"+33612345678", "+14155550123"}

	var ids []string
	for i, email := range emails[:2] {
		res := s.Do("POST", "/v1/members/register", pos, map[string]any{
			"email": email, "name": "Member " + email, "phone": phones[i], "external_id": "EXT-LOG-" + string(rune('A'+i)),
			"consent": map[string]bool{"email": true, "sms": true},
		}, "Prefer", "wait=20", "Idempotency-Key", "log-reg-"+email)
		if res.Status != http.StatusCreated {
			t.Fatalf("register %s: %d %s", email, res.Status, res.Body)
		}
		var m member
		res.Decode(t, &m)
		ids = append(ids, m.MemberID)
	}
	self, other := ids[0], ids[1]
	tokSelf, tokOther := s.MemberToken(self), s.MemberToken(other)

	// Errors whose detail quotes the input.
	s.Do("POST", "/v1/members/register", pos, map[string]any{"email": emails[0], "name": "Dup"})                         // 409
	s.Do("POST", "/v1/members/register", pos, map[string]any{"email": "not an email " + emails[2], "name": "X"})         // 400
	s.Do("POST", "/v1/members/register", pos, map[string]any{"email": emails[2], "name": "X", "phone": phones[1] + "9"}) // 400
	s.Do("POST", "/v1/members/register", pos, `{"EMAIL":"`+emails[2]+`"}`)                                               // 400
	// Purchases, replayed.
	for i := range 3 {
		body := purchase("T-LOG-"+string(rune('0'+i)), self, 2_500)
		s.Do("POST", "/v1/transactions/accrue", pos, body, "Idempotency-Key", "log-acc-"+string(rune('0'+i)))
		s.Do("POST", "/v1/transactions/accrue", pos, body, "Idempotency-Key", "log-acc-"+string(rune('0'+i)))
	}
	// Reads by the member, by support, and across members.
	s.Do("GET", "/v1/members/"+self, tokSelf, nil)
	s.Do("GET", "/v1/members/"+self+"/history", tokSelf, nil)
	s.Do("GET", "/v1/members/"+self, tokOther, nil)
	s.Do("GET", "/v1/members/"+other, support, nil)
	// Refused credentials: a tampered token, a token as a request id, a revoked key, a key on the wrong route.
	s.Do("GET", "/v1/members/"+self, tokSelf[:len(tokSelf)-4]+"AAAA", nil)
	s.Do("GET", "/v1/members/"+self, tokSelf, nil, "X-Request-Id", tokOther)
	s.Do("GET", "/v1/members/"+self, pos+"x", nil)
	s.Do("POST", "/v1/transactions/accrue", support, purchase("T-LOG-X", self, 100))
	ctx := context.Background()
	revoked, err := s.Store.CreateAPIKey(ctx, "log-revoked", "pos")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Store.RevokeAPIKey(ctx, "log-revoked")
	s.Do("GET", "/v1/members/"+self, revoked, nil)
	// A profile change (one refused), an export, and the erasure of the other member, whose worker path logs too.
	s.Do("PATCH", "/v1/members/"+self, tokSelf, map[string]any{"phone": phones[1], "consent": map[string]bool{"sms": false}})
	s.Do("PATCH", "/v1/members/"+self, tokSelf, map[string]any{"email": emails[1]})          // 409
	s.Do("PATCH", "/v1/members/"+self, tokSelf, map[string]any{"email": "bad " + emails[2]}) // 400
	s.Do("GET", "/v1/members/"+self+"/export", tokSelf, nil)
	if res := s.Do("DELETE", "/v1/members/"+other, s.Keys["admin"], nil, "Prefer", "wait=20"); res.Status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.Status, res.Body)
	}
	// Over the rate limit.
	for range 70 {
		s.Do("GET", "/v1/members/"+self, pos, nil)
	}
	// The codec path: support decodes the member's history (opening their sealed personal fields), and sends what
	// cannot be decoded — a key id not configured, a tampered payload, garbage.
	_, payloads := memberHistory(t, s, self)
	if decoded := decodeThroughCodec(t, s, support, payloads); !strings.Contains(strings.ToLower(decoded), strings.ToLower(emails[0])) {
		t.Error("the codec did not open the member's sealed email: the codec path is not exercised")
	}
	foreign, _ := privacy.NewKeyring(privacy.Key{ID: "retired-1", Secret: bytes.Repeat([]byte{3}, 32)})
	under, _ := privacy.DataConverter(foreign).ToPayload(map[string]string{"email": emails[2], "phone": phones[1]})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{under}})
	codecCall(t, s, "/codec/decode", support, body)
	codecCall(t, s, "/codec/decode", support, []byte(`{"payloads":[{"data":"`+emails[2]+`"}]}`))
	codecCall(t, s, "/codec/decode", pos, body)
	time.Sleep(500 * time.Millisecond) // let the worker's last lines land

	secrets := []string{revoked, tokSelf, tokOther}
	for _, k := range s.Keys {
		secrets = append(secrets, k)
	}
	patterns := map[string]*regexp.Regexp{
		"an API key": regexp.MustCompile(`pk_[A-Za-z0-9_\-]{20,}`),
		"a JWT":      regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`),
		"a phone":    regexp.MustCompile(`\+[1-9][0-9]{6,14}`),
		"an email":   regexp.MustCompile(`[A-Za-z0-9._+\-]{2,}@[A-Za-z0-9\-]+\.[A-Za-z]{2,}`),
	}
	out := sink.String()
	lines, withID := 0, 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lines++
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log line: %s", line)
			continue
		}
		if rec["msg"] == "http request" {
			if id, _ := rec["request_id"].(string); id != "" {
				withID++
			} else {
				t.Errorf("request logged without its request id: %s", line)
			}
		}
		lower := strings.ToLower(line)
		for _, secret := range secrets {
			if strings.Contains(line, secret) || strings.Contains(line, secret[:min(len(secret), 24)]) {
				t.Errorf("a key or token is logged: %s", line)
			}
		}
		for _, e := range emails {
			if strings.Contains(lower, strings.ToLower(e)) {
				t.Errorf("email %s is logged: %s", e, line)
			}
		}
		for _, p := range phones {
			if strings.Contains(line, p) || strings.Contains(line, p[1:]) {
				t.Errorf("phone %s is logged: %s", p, line)
			}
		}
		for what, re := range patterns {
			if m := re.FindString(line); m != "" {
				t.Errorf("%s is logged (%q): %s", what, m, line)
			}
		}
	}
	if lines < 50 || withID < 40 {
		t.Fatalf("only %d log lines (%d requests with an id): the flow did not run", lines, withID)
	}
	for _, want := range []string{`"member erased"`, `"authentication refused"`, `"rate limited"`, `"status":429`, `"status":401`, `"status":404`} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs never say %s", want)
		}
	}
	t.Logf("%d log lines checked", lines)
}

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"key pk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_ used":      "key pk_[REDACTED] used",
		"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig-nat_ure": "Bearer [REDACTED-JWT]",
		"to ada.lovelace@example.com, cc Bob@Mail.Example.org":    "to a***@example.com, cc B***@Mail.Example.org",
		"call +33612345678 now":                                   "call ***78 now",
		"nothing here: 12 items, 3+4":                             "nothing here: 12 items, 3+4",
	}
	for in, want := range cases {
		if got := api.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := api.Redact(strings.Repeat("é", 5000)); len(got) > 2100 {
		t.Errorf("a long string is logged whole (%d bytes)", len(got))
	}

	var buf bytes.Buffer
	log := slog.New(api.NewRedactingHandler(slog.NewJSONHandler(&buf, nil)))
	type payload struct {
		Email string
		N     int
	}
	log.With("authorization", "Bearer x").Info("registered ada@example.com",
		"error", errString("pq: duplicate key (email)=(ada@example.com)"), "phone", "+33612345678",
		slog.Group("req", "body", `{"email":"ada@example.com"}`), "payload", payload{"ada@example.com", 1}, "n", 3)
	out := buf.String()
	if strings.Contains(out, "ada@example.com") || strings.Contains(out, "+33612345678") || strings.Contains(out, "Bearer x") {
		t.Fatalf("not redacted: %s", out)
	}
	if !strings.Contains(out, `"n":3`) {
		t.Fatalf("other attributes lost: %s", out)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
