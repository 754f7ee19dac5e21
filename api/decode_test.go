package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

func TestStrictJSON(t *testing.T) {
	type inner struct {
		Code string `json:"code"`
	}
	type embedded struct {
		Note string `json:"note"`
	}
	type body struct {
		embedded
		Name   string            `json:"name"`
		Opt    *string           `json:"opt"`
		Any    any               `json:"any"`
		Raw    json.RawMessage   `json:"raw"`
		Inner  inner             `json:"inner"`
		List   []inner           `json:"list"`
		Labels map[string]string `json:"labels"`
		Skip   string            `json:"-"`
	}
	cases := map[string]string{
		`{"name":"a","opt":null,"any":null,"raw":null,"note":"n","inner":{"code":"c"},"list":[{"code":"x"}],"labels":{"A":"1","a":"2"}}`: "",
		`{"Name":"a"}`:                       "Name",
		`{"inner":{"CODE":"c"}}`:             "inner.CODE",
		`{"list":[{"code":"x"},{"Code":1}]}`: "list[1].Code",
		`{"name":"a","name":"b"}`:            "name",
		`{"labels":{"k":"1","k":"2"}}`:       "labels.k",
		`{"name":null}`:                      "name",
		`{"inner":null}`:                     "inner",
		`{"list":null}`:                      "list",
		`{"name":"a\u0000"}`:                 "name",
		`{"any":{"deep":["\u0000"]}}`:        "any.deep[0]",
		`{"Note":"n"}`:                       "Note",
		`null`:                               "body",
		`{"n\u0061me":"a"}`:                  "",
		`{"name":"a","n\u0061me":"b"}`:       "name",
		`{"name":"a\\u0000"}`:                "",
		`{"list":[],"labels":{},"inner":{}}`: "",
		` { "name" : "a" , "list" : [ { "code" : "x" } ] } `: "",
	}
	for in, field := range cases {
		fe := checkStrictJSON([]byte(in), reflect.TypeFor[body]())
		switch {
		case field == "" && fe != nil:
			t.Errorf("%s: refused (%+v)", in, *fe)
		case field != "" && (fe == nil || fe.Field != field):
			t.Errorf("%s: %+v, want a problem with %s", in, fe, field)
		}
	}
}

// BenchmarkDecodePurchase measures decodeJSON (encoding/json plus the strict walk) on a purchase of 500 lines, the
// most a purchase may have; BenchmarkDecodePurchasePlain is encoding/json alone, for comparison.
func BenchmarkDecodePurchase(b *testing.B) {
	body := bigPurchase()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var p domain.Purchase
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if !decodeJSON(httptest.NewRecorder(), req, &p) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkDecodePurchasePlain(b *testing.B) {
	body := bigPurchase()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var p domain.Purchase
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			b.Fatal(err)
		}
	}
}

func bigPurchase() []byte {
	item := `{"sku":"SKU-1","category":"books","quantity":1,"unit_price":{"amount":100,"currency":"EUR"}}`
	return []byte(`{"transaction_id":"T-1","member_id":"11111111-1111-4111-8111-111111111111","store_id":"s","channel":"store",` +
		`"occurred_at":"2026-01-02T10:00:00Z","total":{"amount":50000,"currency":"EUR"},"items":[` +
		strings.TrimSuffix(strings.Repeat(item+",", 500), ",") + `]}`)
}

// A timestamp that is not RFC 3339 is named in errors[], wherever it is in the body.
func TestDecodeNamesTheBadTimestamp(t *testing.T) {
	type window struct {
		EndsAt *time.Time `json:"ends_at"`
	}
	type body struct {
		Name       string    `json:"name"`
		OccurredAt time.Time `json:"occurred_at"`
		Windows    []window  `json:"windows"`
	}
	cases := map[string]string{
		`{"name":"a","occurred_at":"yesterday"}`:                                                       "occurred_at",
		`{"occurred_at":"2026-11-21T10:00:00Z","windows":[{"ends_at":null},{"ends_at":"2026-13-01"}]}`: "windows[1].ends_at",
		`{"occurred_at":"2026-11-21 10:00:00"}`:                                                        "occurred_at",
	}
	for in, field := range cases {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(in))
		var b body
		if decodeJSON(rec, req, &b) {
			t.Fatalf("%s: accepted", in)
		}
		var p struct {
			Errors []domain.FieldError `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: %d %s", in, rec.Code, rec.Body)
		}
		if len(p.Errors) != 1 || p.Errors[0].Field != field || !strings.Contains(p.Errors[0].Message, "RFC 3339") {
			t.Errorf("%s: errors %+v, want one naming %s", in, p.Errors, field)
		}
	}
}
