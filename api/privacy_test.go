package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/workflows"
)

// The personal values of the member these tests follow: none may reach the Temporal server in clear.
var adaPersonal = map[string]string{"email": "ada.private@example.com", "phone": "+33698765432", "name": "Ada Byron-Private",
	"birthdate": "1985-07-23"}

// registered is what the registration answers, as far as these tests read it.
type registered struct {
	MemberID string `json:"member_id"`
	Email    string `json:"email"`
}

// memberHistory is every event of the member's workflow as the Temporal server keeps it, and every payload in them.
func memberHistory(t *testing.T, s *itest.Stack, memberID string) ([]*historypb.HistoryEvent, []*commonpb.Payload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := s.Temporal.GetWorkflowHistory(ctx, workflows.MemberWorkflowID(memberID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	var payloads []*commonpb.Payload
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
		collectPayloads(e.ProtoReflect(), &payloads)
	}
	return events, payloads
}

// collectPayloads finds every Payload in a message, however deep.
func collectPayloads(m protoreflect.Message, out *[]*commonpb.Payload) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		*out = append(*out, p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				collectPayloads(v.List().Get(i).Message(), out)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				collectPayloads(mv.Message(), out)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			collectPayloads(v.Message(), out)
		}
		return true
	})
}

// decodeThroughCodec sends payloads to POST /codec/decode as the Temporal UI does and answers their data, joined.
func decodeThroughCodec(t *testing.T, s *itest.Stack, key string, payloads []*commonpb.Payload) string {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	res := codecCall(t, s, "/codec/decode", key, body, "X-Namespace", "default")
	mustStatus(t, res, http.StatusOK, "decode through the codec endpoint")
	var out commonpb.Payloads
	if err := protojson.Unmarshal(res.Body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Payloads) != len(payloads) {
		t.Fatalf("decoded %d payloads of %d", len(out.Payloads), len(payloads))
	}
	var b strings.Builder
	for _, p := range out.Payloads {
		b.Write(p.Data)
		b.WriteByte('\n')
	}
	return b.String()
}

func codecCall(t *testing.T, s *itest.Stack, path, key string, body []byte, headers ...string) itest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.API.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return itest.Response{Status: resp.StatusCode, Body: buf.Bytes(), Header: resp.Header}
}

// TestMemberHistoryHoldsNoPersonalDataInClear follows a member through registration, a purchase and a redemption at
// the till, then reads their workflow's whole history from the Temporal server: no payload holds any of their
// personal values in clear (nor does any search attribute). Decoded through /codec/decode by support, they are all
// there; once the member's key is deleted (crypto-shredding), the same history decoded the same way holds none.
func TestMemberHistoryHoldsNoPersonalDataInClear(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	res := s.Do("POST", "/v1/members/register", s.Keys["admin"], map[string]any{"email": adaPersonal["email"], "phone": adaPersonal["phone"],
		"name": adaPersonal["name"], "birthdate": adaPersonal["birthdate"], "consent": map[string]bool{"email": true}}, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "register")
	var m registered
	res.Decode(t, &m)
	if m.Email != adaPersonal["email"] {
		t.Fatalf("the registration answers email %q: the sealed member did not open", m.Email)
	}
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-PRIV-1", m.MemberID, 5_000), "Prefer", "wait=20"),
		http.StatusCreated, "accrue")
	mustStatus(t, s.Do("POST", "/v1/transactions/redeem", s.Keys["pos"], map[string]any{"redemption_id": "TILL-PRIV-1",
		"member_id": m.MemberID, "points": 10, "store_id": "store-1"}), http.StatusCreated, "redeem at the till")

	events, payloads := memberHistory(t, s, m.MemberID)
	if len(payloads) < 6 {
		t.Fatalf("only %d payloads in %d events: the history is not what this test expects", len(payloads), len(events))
	}
	for _, e := range events {
		raw, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for field, v := range adaPersonal {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("event %d (%s) holds the member's %s in clear", e.EventId, e.EventType, field)
			}
		}
	}
	encrypted := 0
	for _, p := range payloads {
		if string(p.Metadata[privacy.MetadataEncoding]) == privacy.EncodingEncrypted {
			encrypted++
		}
	}
	if encrypted == 0 {
		t.Fatal("no payload of the history is encrypted")
	}

	decoded := decodeThroughCodec(t, s, s.Keys["support"], payloads)
	for field, v := range adaPersonal {
		if !strings.Contains(decoded, v) {
			t.Errorf("decoded through the codec, the history does not show the member's %s to support", field)
		}
	}
	uses, err := s.Store.CodecUses(context.Background(), s.Actors["support"])
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 1 || uses[0].Operation != "decode" || uses[0].Payloads != len(payloads) || uses[0].Namespace != "default" || uses[0].Opened < 4 {
		t.Errorf("codec audit = %+v; want one decode of %d payloads in namespace default, opening the sealed values", uses, len(payloads))
	}

	if err := s.Store.DeleteMemberKey(context.Background(), m.MemberID); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.DeleteMemberKey(context.Background(), m.MemberID); err != nil {
		t.Fatalf("deleting the key again: %v", err)
	}
	after := decodeThroughCodec(t, s, s.Keys["admin"], payloads)
	for field, v := range adaPersonal {
		if strings.Contains(after, v) {
			t.Errorf("after the member's key is deleted, the codec still shows their %s", field)
		}
	}
	// Nor can perkflow itself open them: the values are gone for everyone.
	var sm privacy.SealedMember
	for _, p := range payloads {
		var dec []*commonpb.Payload
		if dec, err = privacy.NewCodec(itest.PayloadKeys).Decode([]*commonpb.Payload{p}); err == nil &&
			converter.GetDefaultDataConverter().FromPayload(dec[0], &sm) == nil && sm.Email != "" {
			break
		}
		// The API registers the member itself: the workflow's input carries the registration, sealed.
		var in workflows.MemberInput
		if err == nil && converter.GetDefaultDataConverter().FromPayload(dec[0], &in) == nil && in.Registration != nil && in.Registration.Email != "" {
			sm = privacy.SealedMember{SealedRegistration: *in.Registration}
			break
		}
	}
	if sm.Email == "" {
		t.Fatal("no sealed member in the history")
	}
	if _, err := s.Members().OpenMember(context.Background(), sm); err != privacy.ErrShredded {
		t.Errorf("opening the sealed member after its key is deleted: %v, want ErrShredded", err)
	}
}

// TestSearchAttributesHoldNoPersonalData: every search attribute perkflow sets on a member's workflow is readable by
// anyone with access to the namespace (they cannot be encrypted): none holds a personal value.
func TestSearchAttributesHoldNoPersonalData(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	res := s.Do("POST", "/v1/members/register", s.Keys["pos"], map[string]any{"email": adaPersonal["email"], "phone": adaPersonal["phone"],
		"name": adaPersonal["name"], "birthdate": adaPersonal["birthdate"], "consent": map[string]bool{"email": true}}, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "register")
	var m registered
	res.Decode(t, &m)
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-SA-1", m.MemberID, 200_000), "Prefer", "wait=20"),
		http.StatusCreated, "accrue")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(m.MemberID), "")
	if err != nil {
		t.Fatal(err)
	}
	fields := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	if len(fields) == 0 {
		t.Fatal("no search attributes: the test sees nothing")
	}
	for name, p := range fields {
		if string(p.Metadata[privacy.MetadataEncoding]) == privacy.EncodingEncrypted {
			t.Errorf("search attribute %s is encrypted: the server cannot index it", name)
		}
		for field, v := range adaPersonal {
			if bytes.Contains(p.Data, []byte(v)) {
				t.Errorf("search attribute %s holds the member's %s", name, field)
			}
		}
	}
}

// TestCodecEndpointRefusesWhatItCannotDecode: a payload under a key id this perkflow does not hold → 422 naming the
// key id; tampered ciphertext → 422; a body that is not the protocol's → 400. Nothing of any payload is answered.
func TestCodecEndpointRefusesWhatItCannotDecode(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	foreign, err := privacy.NewKeyring(privacy.Key{ID: "retired-2024", Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := privacy.DataConverter(foreign).ToPayload(map[string]string{"email": "secret@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{secret}})
	res := codecCall(t, s, "/codec/decode", s.Keys["support"], body)
	mustStatus(t, res, http.StatusUnprocessableEntity, "decode under an unknown key id")
	var p struct{ Type, Detail string }
	_ = json.Unmarshal(res.Body, &p)
	if !strings.Contains(p.Detail, "retired-2024") || !strings.HasSuffix(p.Type, "#payload-undecodable") || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("problem = %s (%s)", res.Body, res.Header.Get("Content-Type"))
	}
	// A batch holding a payload the endpoint can open beside one it cannot: refused whole, the other's value unsaid.
	readable, err := privacy.DataConverter(itest.PayloadKeys).ToPayload(map[string]string{"email": "secret@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	readableJSON, _ := protojson.Marshal(readable)
	ours, _ := privacy.DataConverter(itest.PayloadKeys).ToPayload("x")
	ours.Data[len(ours.Data)-1] ^= 1
	body, _ = protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{readable, ours}})
	res = codecCall(t, s, "/codec/decode", s.Keys["admin"], body)
	mustStatus(t, res, http.StatusUnprocessableEntity, "tampered payload")
	if strings.Contains(string(res.Body), "secret@example.com") {
		t.Errorf("the 422 of a batch with a tampered payload leaks the readable one: %s", res.Body)
	}
	for _, garbage := range []string{"", "not json", `{"payloads": "x"}`, `{"payloads": [{"data": "%%%"}]}`,
		`{"payloads": [` + string(readableJSON) + `, {"data": "%%%"}]}`} {
		res := codecCall(t, s, "/codec/decode", s.Keys["support"], []byte(garbage))
		mustStatus(t, res, http.StatusBadRequest, "decode "+garbage)
		if strings.Contains(string(res.Body), "secret@example.com") {
			t.Errorf("%q: the answer leaks a value", garbage)
		}
	}
	mustStatus(t, codecCall(t, s, "/codec/decode", s.Keys["support"], []byte(`{"payloads":[]}`), "X-Namespace", "bad namespace!"),
		http.StatusBadRequest, "a namespace that is not one")
	// Encode and decode agree: what the endpoint encodes, it decodes, under the current key.
	clear, _ := converter.GetDefaultDataConverter().ToPayload("round trip")
	body, _ = protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{clear}})
	res = codecCall(t, s, "/codec/encode", s.Keys["support"], body)
	mustStatus(t, res, http.StatusOK, "encode")
	var enc commonpb.Payloads
	if err := protojson.Unmarshal(res.Body, &enc); err != nil || len(enc.Payloads) != 1 || string(enc.Payloads[0].Metadata[privacy.MetadataKeyID]) != itest.PayloadKeys.CurrentKeyID() {
		t.Fatalf("encoded %s, %v", res.Body, err)
	}
	if got := decodeThroughCodec(t, s, s.Keys["support"], enc.Payloads); !strings.Contains(got, "round trip") {
		t.Errorf("round trip: %q", got)
	}
}

// TestCodecCORS: the browser's preflight from a configured Temporal UI origin is answered with the CORS headers the
// UI needs (credentials, Authorization, X-Namespace); another origin gets none, so its browser sends nothing.
func TestCodecCORS(t *testing.T) {
	const ui = "https://temporal-ui.example.com"
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true, CodecOrigins: []string{ui}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.API.URL+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := preflight(ui)
	h := res.Header
	if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != ui || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "x-namespace") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight from the UI: %d %v", res.StatusCode, h)
	}
	if res := preflight("https://evil.example.com"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin allowed: %v", res.Header)
	}
	// The call itself carries the CORS headers too, for the UI's origin, and still needs a support or admin key.
	res2 := codecCall(t, s, "/codec/decode", s.Keys["support"], []byte(`{"payloads":[]}`), "Origin", ui)
	if res2.Status != http.StatusOK || res2.Header.Get("Access-Control-Allow-Origin") != ui {
		t.Errorf("decode from the UI: %d %v", res2.Status, res2.Header)
	}
	if res := codecCall(t, s, "/codec/decode", "", []byte(`{"payloads":[]}`), "Origin", ui); res.Status != http.StatusUnauthorized {
		t.Errorf("decode from the UI without a key: %d", res.Status)
	}
	if res := codecCall(t, s, "/codec/decode", s.Keys["marketer"], []byte(`{"payloads":[]}`), "Origin", ui); res.Status != http.StatusForbidden {
		t.Errorf("decode from the UI with a marketer key: %d", res.Status)
	}
}
