package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

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
