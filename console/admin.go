package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// Admin pages: the program's settings (GET, PUT /v1/program) and the API keys (GET, POST /v1/api-keys, DELETE
// /v1/api-keys/{name}).

type settingsData struct {
	Program programJSON
	Rows    []int
	// Kinds are the kinds of credit a program may count towards tiers.
	Kinds []string
}

func (c *Console) settingsPage(q *request) {
	p, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	v := q.view("Program settings", "Settings")
	v.Flash = q.flash()
	v.Form = url.Values{"currency": {p.Currency}, "time_zone": {p.TimeZone}, "pending_days": {strconv.Itoa(p.PendingDays)},
		"expiry.months": {strconv.Itoa(p.Expiry.Months)}, "tier_window_days": {strconv.Itoa(p.TierWindowDays)},
		"birthday_bonus_points": {strconv.FormatInt(p.BirthdayBonusPoints, 10)}, "winback_days": {strconv.Itoa(p.WinbackDays)},
		"expiry_reminder_days": {strconv.Itoa(p.ExpiryReminderDays)}}
	retro := domain.DefaultRetroClaimDays
	if p.RetroClaimDays != nil {
		retro = *p.RetroClaimDays
	}
	v.Form.Set("retro_claim_days", strconv.Itoa(retro))
	v.Form["qualifying_kinds"] = p.QualifyingKinds
	if p.AllowNegativeOnReturn {
		v.Form.Set("allow_negative_on_return", "on")
	}
	if p.PointValue != nil {
		v.Form.Set("point_value.amount", strconv.FormatInt(p.PointValue.Amount, 10))
		v.Form.Set("point_value.per_points", strconv.FormatInt(max(p.PointValue.PerPoints, 1), 10))
	}
	for i, t := range p.Tiers {
		k := "tiers[" + strconv.Itoa(i) + "]."
		v.Form.Set(k+"code", t.Code)
		v.Form.Set(k+"name", t.Name)
		v.Form.Set(k+"threshold_points", strconv.FormatInt(t.ThresholdPoints, 10))
		v.Form.Set(k+"multiplier_percent", strconv.FormatInt(t.MultiplierPercent, 10))
	}
	v.Data = settingsData{Program: p, Rows: tierRows(len(p.Tiers) + 1), Kinds: domain.QualifyingKindNames}
	q.render("settings", v)
}

func tierRows(n int) []int {
	rows := make([]int, min(n, 20))
	for i := range rows {
		rows[i] = i
	}
	return rows
}

// settingsSave records a new version of the settings (PUT /v1/program); tier rows left empty are dropped.
func (c *Console) settingsSave(q *request) {
	f := q.form()
	body := map[string]any{"currency": f.str("currency"), "time_zone": f.str("time_zone"), "pending_days": f.intOr("pending_days", 0),
		"expiry": map[string]any{"months": f.intOr("expiry.months", 0)}, "tier_window_days": f.intOr("tier_window_days", 0),
		"allow_negative_on_return": f.checked("allow_negative_on_return"), "birthday_bonus_points": f.intOr("birthday_bonus_points", 0),
		"winback_days": f.intOr("winback_days", 0), "expiry_reminder_days": f.intOr("expiry_reminder_days", 0)}
	if n := f.int("retro_claim_days"); n != nil {
		body["retro_claim_days"] = *n
	}
	// Sent as ticked, so that saving the settings keeps the kinds chosen (none ticked is refused by the API).
	body["qualifying_kinds"] = append([]string{}, f.all("qualifying_kinds")...)
	if n := f.int("point_value.amount"); n != nil {
		body["point_value"] = map[string]any{"amount": *n, "currency": f.str("currency"), "per_points": f.intOr("point_value.per_points", 1)}
	}
	var tiers []map[string]any
	for i := 0; i < 20; i++ {
		k := "tiers[" + strconv.Itoa(i) + "]."
		if f.str(k+"code") == "" && f.str(k+"name") == "" {
			continue
		}
		tiers = append(tiers, map[string]any{"code": f.str(k + "code"), "name": f.str(k + "name"),
			"threshold_points": f.intOr(k+"threshold_points", 0), "multiplier_percent": f.intOr(k+"multiplier_percent", 100)})
	}
	body["tiers"] = tiers
	v := q.view("Program settings", "Settings")
	v.Data = settingsData{Rows: tierRows(len(tiers) + 1), Kinds: domain.QualifyingKindNames}
	if f.failed() {
		v.Errors, v.Form, v.Error = f.errors, q.r.PostForm, "Some values could not be read."
		q.renderStatus(http.StatusUnprocessableEntity, "settings", v)
		return
	}
	accepted, err := q.call("PUT", "/v1/program", body, nil)
	if err != nil {
		q.formFailed(err, "settings", v)
		return
	}
	msg := "Settings saved: they apply to purchases from now on."
	if accepted {
		msg = "Settings accepted: they apply within moments."
	}
	q.redirect(Prefix+"/settings", msg)
}

type apiKeyJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix"`
	Key        string     `json:"key"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	RevokedBy  string     `json:"revoked_by"`
}

type keysData struct {
	Keys  []apiKeyJSON
	New   *apiKeyJSON // the key just made, shown this once
	Token string
}

func (c *Console) keysPage(q *request) {
	c.renderKeys(q, http.StatusOK, q.view("API keys", "API keys"), nil)
}

func (c *Console) renderKeys(q *request, status int, v view, created *apiKeyJSON) {
	var page struct {
		Items []apiKeyJSON `json:"items"`
	}
	if _, err := q.call("GET", "/v1/api-keys?limit=200", nil, &page); err != nil {
		q.fail(err)
		return
	}
	if v.Flash == "" {
		v.Flash = q.flash()
	}
	v.Data = keysData{Keys: page.Items, New: created, Token: uuid.NewString()}
	q.renderStatus(status, "apikeys", v)
}

// keyCreate makes a key and shows it on the answer to this request only: it is never stored, and a reload shows
// only its prefix.
func (c *Console) keyCreate(q *request) {
	f := q.form()
	v := q.view("API keys", "API keys")
	var k apiKeyJSON
	if _, err := q.call("POST", "/v1/api-keys", map[string]any{"name": f.str("name"), "role": f.str("role")}, &k, "Idempotency-Key", f.str("token")); err != nil {
		e, ok := err.(*apiError)
		if !ok || e.Status >= 500 {
			q.fail(err)
			return
		}
		v.Error, v.Form = e.Detail, q.r.PostForm
		for name, m := range e.Fields {
			v.Errors[name] = m
		}
		c.renderKeys(q, http.StatusUnprocessableEntity, v, nil)
		return
	}
	if k.Key == "" {
		v.Flash = "This key was made by an earlier submission of the form; it was shown then, and cannot be shown again."
		c.renderKeys(q, http.StatusOK, v, nil)
		return
	}
	v.Flash = "Key “" + k.Name + "” made. Copy it now: it is shown only this once."
	c.renderKeys(q, http.StatusOK, v, &k)
}

func (c *Console) keyRevoke(q *request) {
	name := chi.URLParam(q.r, "name")
	if _, err := q.call("DELETE", "/v1/api-keys/"+url.PathEscape(name), nil, nil); err != nil {
		q.fail(err)
		return
	}
	q.redirect(Prefix+"/api-keys", "Key “"+name+"” revoked: it is refused from now on, and its console sessions are over.")
}
