package console

import (
	"net/http"
	"strings"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/webui"
)

// The console calls the API in process, as the signed-in key: the same handlers, access rules, validation and
// audit as a request over HTTP, so that what the console shows and does is what the API answers.

// apiError is a problem the API answered, with its fields' messages by field name (addFieldError).
type apiError = webui.APIError

// call sends method path (with body as JSON, when not nil) to the API as the session's key and decodes a 2xx
// answer into out (when not nil). A 4xx or 5xx answer is returned as an *apiError. Writes wait up to 10 s for their
// workflow (Prefer: wait=10): a 202 is then reported with accepted true.
func (q *request) call(method, path string, body, out any, headers ...string) (accepted bool, err error) {
	req, err := webui.NewAPIRequest(q.r.Context(), method, path, body, headers...)
	if err != nil {
		return false, err
	}
	ans, err := webui.CallAPI(func(w http.ResponseWriter, r *http.Request) {
		q.c.cfg.API.ServeAs(api.KeyPrincipal(q.sess.Key), w, r)
	}, req, out, addFieldError)
	if err != nil {
		return false, err
	}
	return ans.Status == http.StatusAccepted, nil
}

// addFieldError files a field's message under its name, and under the name of the form field that holds it when
// the API names a part of one (tiers[1].code under tiers).
func addFieldError(m map[string]string, f domain.FieldError) {
	add := func(k string) {
		if m[k] == "" {
			m[k] = f.Message
		} else if !strings.Contains(m[k], f.Message) {
			m[k] += "; " + f.Message
		}
	}
	add(f.Field)
	for i := len(f.Field) - 1; i > 0; i-- {
		if f.Field[i] == '.' || f.Field[i] == '[' {
			add(f.Field[:i])
		}
	}
}
