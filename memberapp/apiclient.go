package memberapp

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/webui"
)

// The app calls the public API in process, exactly as a mobile app would over HTTP: the API's router, with the
// signed-in member's bearer token — a member JWT minted for each call and valid for memberTokenTTL — so that
// authentication, the object-level checks (another member's resource → 404), validation, idempotency and rate
// limits are the API's own.

// memberTokenTTL is the life of the member JWT each API call carries.
const memberTokenTTL = 5 * time.Minute

// apiError is a problem the API answered, with its fields' messages by field name (the first message of each).
type apiError = webui.APIError

// apiAnswer is a 2xx answer: its status and body.
type apiAnswer = webui.Answer

// call sends method path (with body as JSON, when not nil) to the API as the session's member and decodes a 2xx
// answer into out (when not nil). A 4xx or 5xx answer is returned as an *apiError. Writes wait up to 10 s for their
// workflow (Prefer: wait=10).
func (q *request) call(method, path string, body, out any, headers ...string) (apiAnswer, error) {
	return q.a.callAPI(q.r, q.sess.MemberID, method, path, body, out, headers...)
}

func (a *App) callAPI(r *http.Request, memberID, method, path string, body, out any, headers ...string) (apiAnswer, error) {
	token, err := api.MintMemberToken(a.cfg.JWT, memberID, memberTokenTTL, a.now())
	if err != nil {
		return apiAnswer{}, fmt.Errorf("mint a member token: %w", err)
	}
	return a.callAPIWith(r, token, method, path, body, out, headers...)
}

// callAPIWith sends the call with the bearer token given (a sign-in hand-off's token, checked by the API itself).
func (a *App) callAPIWith(r *http.Request, token, method, path string, body, out any, headers ...string) (apiAnswer, error) {
	// A fresh routing: the app's own chi routing state must not make the API's router behave as one mounted under it.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	req, err := webui.NewAPIRequest(ctx, method, path, body, headers...)
	if err != nil {
		return apiAnswer{}, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Language", r.Header.Get("Accept-Language"))
	return webui.CallAPI(a.apiRouter.ServeHTTP, req, out, webui.FirstMessage)
}
