package memberapp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/webui"
	"github.com/perkflow/perkflow/store"
)

// request is one signed-in request to a page.
type request struct {
	a    *App
	w    http.ResponseWriter
	r    *http.Request
	sess store.MemberSession
	loc  *time.Location
}

type page struct {
	method, pattern string
	handle          func(*request)
}

// nav is the app's navigation (labels are message keys).
var nav = []navItem{
	{"nav.home", Prefix + "/"}, {"nav.history", Prefix + "/history"}, {"nav.rewards", Prefix + "/rewards"},
	{"nav.challenges", Prefix + "/challenges"}, {"nav.settings", Prefix + "/settings"},
}

func (a *App) pageTable() []page {
	return []page{
		{"GET", "/", a.home},
		{"GET", "/history", a.history},
		{"GET", "/rewards", a.rewards},
		{"POST", "/rewards/{offerId}/claim", a.claim},
		{"GET", "/redemptions/{redemptionId}", a.redemption},
		{"GET", "/redemptions/{redemptionId}/status", a.redemptionStatus},
		{"POST", "/redemptions/{redemptionId}/cancel", a.cancelRedemption},
		{"GET", "/challenges", a.challenges},
		{"POST", "/challenges/{challengeId}/join", a.joinChallenge},
		{"GET", "/settings", a.settings},
		{"POST", "/settings/profile", a.saveProfile},
		{"POST", "/settings/consent", a.saveConsent},
		{"GET", "/settings/export", a.export},
		{"GET", "/settings/delete", a.deletePage},
		{"POST", "/settings/delete", a.deleteAccount},
		{"POST", "/sign-out", a.signOut},
	}
}

// guard runs a page for a session: a state-changing request without the session's CSRF token → 403.
func (a *App) guard(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sessionFrom(r.Context())
		q := &request{a: a, w: w, r: r, sess: sess, loc: time.UTC}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !sameToken(r.PostFormValue(csrfField), sess.CSRFToken) {
				a.renderError(w, r, http.StatusForbidden, "error.csrf")
				return
			}
			q.w = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		}
		p.handle(q)
	})
}

// view is the base view of a signed-in page.
func (q *request) view(title, active string) view {
	v := q.a.baseView(q.r, title)
	v.Active, v.Nav, v.Signed, v.CSRF, v.Loc = active, nav, true, q.sess.CSRFToken, q.loc
	v.Flash = q.flash()
	return v
}

func (q *request) render(page string, v view) { q.a.render(q.w, q.r, http.StatusOK, page, v) }

const flashCookie = "perkflow_app_flash"

// redirect answers a form with a redirect (303) to a page, with a message (a message key) for it, in a cookie.
func (q *request) redirect(to, flashKey string) {
	if flashKey != "" {
		setCookie(q.w, q.r, flashCookie, flashKey, 60)
	}
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

// flash is the message a redirect left for the page, read once; only known message keys are shown.
func (q *request) flash() string {
	ck, err := q.r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	setCookie(q.w, q.r, flashCookie, "", -1)
	if !strings.HasPrefix(ck.Value, "flash.") {
		return ""
	}
	lang := langOf(q.r)
	if _, ok := messages[lang][ck.Value]; !ok {
		return ""
	}
	return translate(lang, ck.Value)
}

// fail shows an error the API answered: its own words for a 4xx, the member's session ended for a 401.
func (q *request) fail(err error) {
	if e, ok := err.(*apiError); ok && e.Status < 500 {
		if e.Status == http.StatusUnauthorized {
			setCookie(q.w, q.r, sessionCookie, "", -1)
			http.Redirect(q.w, q.r, Prefix+"/sign-in", http.StatusSeeOther)
			return
		}
		v := q.view("error.title", "")
		v.Error = e.Detail
		if e.Status == http.StatusNotFound {
			v.Error = v.T("error.notfound")
		}
		q.a.render(q.w, q.r, e.Status, "error", v)
		return
	}
	q.a.serverError(q.w, q.r, err)
}

func (q *request) memberPath(suffix string) string {
	return "/v1/members/" + url.PathEscape(q.sess.MemberID) + suffix
}

// member is a member as the API shows them to themselves.
type member struct {
	MemberID  string             `json:"member_id"`
	Email     string             `json:"email"`
	Phone     string             `json:"phone"`
	Name      string             `json:"name"`
	Birthdate string             `json:"birthdate"`
	Consent   domain.Consent     `json:"consent"`
	Status    string             `json:"status"`
	Balance   *domain.Balance    `json:"balance"`
	Tier      *domain.TierStatus `json:"tier"`
}

type program struct {
	domain.Program
}

func (q *request) program() (program, error) {
	var p program
	_, err := q.call("GET", "/v1/program", nil, &p)
	if err == nil {
		q.loc = p.Location()
	}
	return p, err
}

type historyPage struct {
	Items      []domain.LedgerEntry `json:"items"`
	NextCursor string               `json:"next_cursor"`
}

// expiring is points that expire soon, and when.
type expiring struct {
	Points int64
	At     time.Time
}

type homeView struct {
	Member   member
	Balance  domain.Balance
	Tier     domain.TierStatus
	NextName string
	// Progress towards the next tier: Reached of Needed qualifying points (Needed 0: top tier).
	Reached, Needed int64
	Expiring        []expiring
	ExpiringTotal   int64
	Latest          []entryView
}

func (a *App) home(q *request) {
	prog, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	var m member
	if _, err := q.call("GET", q.memberPath(""), nil, &m); err != nil {
		q.fail(err)
		return
	}
	var hist historyPage
	if _, err := q.call("GET", q.memberPath("/history?limit=5"), nil, &hist); err != nil {
		q.fail(err)
		return
	}
	hv := homeView{Member: m}
	if m.Balance != nil {
		hv.Balance = *m.Balance
	}
	if m.Tier != nil {
		hv.Tier = *m.Tier
		if t, _ := prog.TierByCode(m.Tier.NextCode); m.Tier.NextCode != "" && t.Code != "" {
			hv.NextName, hv.Needed = t.Name, t.ThresholdPoints
			hv.Reached = max(0, min(t.ThresholdPoints, t.ThresholdPoints-m.Tier.PointsToNext))
		}
	}
	// The lots a member holds are theirs alone, read as the API's export reads them.
	lots, err := a.cfg.Store.OpenLots(q.r.Context(), q.sess.MemberID)
	if err != nil {
		a.serverError(q.w, q.r, err)
		return
	}
	now := a.now()
	for _, l := range lots {
		if l.ExpiresAt == nil || l.ExpiresAt.After(now.Add(30*24*time.Hour)) || !l.ExpiresAt.After(now) || l.AvailableAt.After(now) {
			continue
		}
		if n := len(hv.Expiring); n > 0 && sameDay(hv.Expiring[n-1].At, *l.ExpiresAt, q.loc) {
			hv.Expiring[n-1].Points += l.Remaining
		} else {
			hv.Expiring = append(hv.Expiring, expiring{Points: l.Remaining, At: *l.ExpiresAt})
		}
		hv.ExpiringTotal += l.Remaining
	}
	v := q.view("home.title", "nav.home")
	for _, e := range hist.Items {
		hv.Latest = append(hv.Latest, describeEntry(v, e))
	}
	v.Data = hv
	q.render("home", v)
}

func sameDay(a, b time.Time, loc *time.Location) bool {
	ay, am, ad := a.In(loc).Date()
	by, bm, bd := b.In(loc).Date()
	return ay == by && am == bm && ad == bd
}

// entryView is a ledger entry in words.
type entryView struct {
	Text   string
	Points int64
	At     time.Time
	Credit bool
}

// describeEntry says a ledger entry in the member's words: "Earned 123 points — purchase T-1".
func describeEntry(v view, e domain.LedgerEntry) entryView {
	n := e.Points
	if n < 0 {
		n = -n
	}
	pts := formatPoints(n)
	var text string
	switch e.Kind {
	case domain.EntryAccrual:
		text = v.T("entry.accrual", pts, e.SourceID)
		if e.AvailableAt.After(e.OccurredAt) {
			text += " " + v.T("entry.pending", v.Day(e.AvailableAt))
		}
	case domain.EntryReturn:
		text = v.T("entry.return", pts, e.SourceID)
	case domain.EntryRedemption:
		if e.SourceType == "till" || strings.HasPrefix(e.SourceType, "pos") {
			text = v.T("entry.till", pts)
		} else {
			text = v.T("entry.redemption", pts)
		}
	case domain.EntryRelease:
		text = v.T("entry.release", pts)
	case domain.EntryExpiry:
		text = v.T("entry.expiry", pts)
	case domain.EntryAdjustment:
		if e.Points >= 0 {
			text = v.T("entry.adjust.credit", pts)
		} else {
			text = v.T("entry.adjust.debit", pts)
		}
		if e.Reason != "" {
			text += " — " + e.Reason
		}
	case domain.EntryBonus:
		text = v.T("entry.bonus", pts)
		if e.Reason != "" {
			text += " — " + e.Reason
		}
	default:
		text = v.T("entry.other", pts)
	}
	return entryView{Text: text, Points: e.Points, At: e.OccurredAt, Credit: e.Points >= 0}
}

type historyView struct {
	Entries []entryView
	Next    string
	First   bool
}

func (a *App) history(q *request) {
	if _, err := q.program(); err != nil {
		q.fail(err)
		return
	}
	cursor := q.r.URL.Query().Get("cursor")
	path := q.memberPath("/history?limit=20")
	if cursor != "" {
		path += "&cursor=" + url.QueryEscape(cursor)
	}
	var hist historyPage
	if _, err := q.call("GET", path, nil, &hist); err != nil {
		q.fail(err)
		return
	}
	v := q.view("history.title", "nav.history")
	hv := historyView{Next: hist.NextCursor, First: cursor == ""}
	for _, e := range hist.Items {
		hv.Entries = append(hv.Entries, describeEntry(v, e))
	}
	v.Data = hv
	q.render("history", v)
}

type offersPage struct {
	Items      []domain.Offer `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

type redemptionsPage struct {
	Items []redemptionItem `json:"items"`
}

// redemptionItem is a redemption as the member's list shows it.
type redemptionItem struct {
	RedemptionID string    `json:"redemption_id"`
	OfferID      string    `json:"offer_id"`
	Title        string    `json:"offer_title"`
	Points       int64     `json:"points"`
	Status       string    `json:"status"`
	Code         string    `json:"code"`
	CreatedAt    time.Time `json:"created_at"`
}

type offerView struct {
	domain.Offer
	// Key is the Idempotency-Key of the claim form: a double tap sends it twice, and the API claims once.
	Key        string
	Affordable bool
	// Cash: the offer has a cash price, paid by card through Stripe.js.
	Cash bool
}

type rewardsView struct {
	Available   int64
	Offers      []offerView
	Redemptions []redemptionItem
	// CashHidden: cash offers are left out (no publishable key); HasCash: some are shown, and the page loads
	// Stripe.js.
	CashHidden, HasCash bool
}

func (a *App) rewards(q *request) {
	if _, err := q.program(); err != nil {
		q.fail(err)
		return
	}
	var m member
	if _, err := q.call("GET", q.memberPath(""), nil, &m); err != nil {
		q.fail(err)
		return
	}
	var offers offersPage
	if _, err := q.call("GET", "/v1/offers/available?limit=100", nil, &offers); err != nil {
		q.fail(err)
		return
	}
	var reds redemptionsPage
	if _, err := q.call("GET", q.memberPath("/redemptions?limit=10"), nil, &reds); err != nil {
		q.fail(err)
		return
	}
	rv := rewardsView{Redemptions: reds.Items}
	if m.Balance != nil {
		rv.Available = m.Balance.Available
	}
	for _, o := range offers.Items {
		// Cash offers need the card field of Stripe.js: without a publishable key they are not offered here
		// (docs/member-app.md).
		cash := o.NeedsPayment()
		if cash && !a.cashShown() {
			rv.CashHidden = true
			continue
		}
		rv.HasCash = rv.HasCash || cash
		rv.Offers = append(rv.Offers, offerView{Offer: o, Key: "app-claim-" + randomToken()[:24], Affordable: o.PointsCost <= rv.Available, Cash: cash})
	}
	v := q.view("rewards.title", "nav.rewards")
	if rv.HasCash {
		q.useStripe(&v)
	}
	v.Data = rv
	q.render("rewards", v)
}

// claim claims an offer with the form's Idempotency-Key, so that the same form sent twice claims once; a cash
// offer's form carries the PaymentMethod Stripe.js made of the card.
func (a *App) claim(q *request) {
	key := q.r.PostFormValue("key")
	if !strings.HasPrefix(key, "app-claim-") || len(key) > 64 {
		q.a.renderError(q.w, q.r, http.StatusBadRequest, "error.form")
		return
	}
	var red domain.Redemption
	_, err := q.call("POST", "/v1/offers/"+url.PathEscape(chi.URLParam(q.r, "offerId"))+"/claim", claimBody(q.r), &red, "Idempotency-Key", key)
	if err != nil {
		if e, ok := err.(*apiError); ok && e.Status == http.StatusBadRequest && e.Fields["payment_method"] != "" && q.r.PostFormValue("payment_method") == "" {
			// A cash offer's form sent without the card (no JavaScript): say what it needs.
			q.a.renderError(q.w, q.r, http.StatusBadRequest, "rewards.cash.nojs")
			return
		}
		q.fail(err)
		return
	}
	// "Claimed" once it is; a failed claim's page says why, and one awaiting the bank asks for it.
	flash := "flash.claimed"
	if red.Status == domain.RedemptionFailed || red.Status == domain.RedemptionAwaitingPayment {
		flash = ""
	}
	q.redirect(Prefix+"/redemptions/"+url.PathEscape(red.ID), flash)
}

type redemptionView struct {
	domain.Redemption
	Title     string
	CanCancel bool
	Waiting   bool
	// Confirm: the bank asks for 3-D Secure, which the page's script does with Stripe.js (its ClientSecret is
	// in the page, never in a URL or a log).
	Confirm bool
}

func (a *App) redemption(q *request) {
	if _, err := q.program(); err != nil {
		q.fail(err)
		return
	}
	id := chi.URLParam(q.r, "redemptionId")
	var red domain.Redemption
	if _, err := q.call("GET", "/v1/redemptions/"+url.PathEscape(id), nil, &red); err != nil {
		q.fail(err)
		return
	}
	rv := redemptionView{Redemption: red}
	rv.CanCancel = !red.Status.Final() && a.now().Before(red.CancelUntil) && (red.Coupon == nil || red.Coupon.Use == nil)
	rv.Waiting = !red.Status.Final() && red.Status != domain.RedemptionFulfilled && red.Code == ""
	rv.Confirm = red.Status == domain.RedemptionAwaitingPayment && red.ClientSecret != "" && a.cashShown()
	if !rv.Confirm {
		rv.ClientSecret = ""
	}
	var reds redemptionsPage
	if _, err := q.call("GET", q.memberPath("/redemptions?limit=50"), nil, &reds); err == nil {
		for _, it := range reds.Items {
			if it.RedemptionID == red.ID {
				rv.Title = it.Title
			}
		}
	}
	v := q.view("redemption.title", "nav.rewards")
	if rv.Confirm {
		q.useStripe(&v)
	}
	v.Data = rv
	q.render("redemption", v)
}

func (a *App) cancelRedemption(q *request) {
	id := chi.URLParam(q.r, "redemptionId")
	if _, err := q.call("POST", "/v1/redemptions/"+url.PathEscape(id)+"/cancel", nil, nil, "Idempotency-Key", "app-cancel-"+id); err != nil {
		q.fail(err)
		return
	}
	q.redirect(Prefix+"/redemptions/"+url.PathEscape(id), "flash.cancelled")
}

type challengesPage struct {
	Items  []domain.ChallengeEnrolment `json:"items"`
	Badges []string                    `json:"badges"`
}

type allChallenges struct {
	Items []domain.Challenge `json:"items"`
}

type leaderboard struct {
	Items []domain.LeaderboardEntry `json:"items"`
}

type challengesView struct {
	Enrolled    []domain.ChallengeEnrolment
	Open        []domain.Challenge
	Badges      []string
	Leaderboard []domain.LeaderboardEntry
}

func (a *App) challenges(q *request) {
	if _, err := q.program(); err != nil {
		q.fail(err)
		return
	}
	var mine challengesPage
	if _, err := q.call("GET", q.memberPath("/challenges?limit=100"), nil, &mine); err != nil {
		q.fail(err)
		return
	}
	var all allChallenges
	if _, err := q.call("GET", "/v1/challenges?limit=100", nil, &all); err != nil {
		q.fail(err)
		return
	}
	var lb leaderboard
	if _, err := q.call("GET", "/v1/gamification/leaderboard?period=month&limit=10", nil, &lb); err != nil {
		q.fail(err)
		return
	}
	cv := challengesView{Enrolled: mine.Items, Badges: mine.Badges, Leaderboard: lb.Items}
	joined := map[string]bool{}
	for _, e := range mine.Items {
		joined[e.ChallengeID] = true
	}
	now := a.now()
	for _, c := range all.Items {
		if !joined[c.ID] && (c.EndsAt == nil || c.EndsAt.After(now)) {
			cv.Open = append(cv.Open, c)
		}
	}
	v := q.view("challenges.title", "nav.challenges")
	v.Data = cv
	q.render("challenges", v)
}

func (a *App) joinChallenge(q *request) {
	id := chi.URLParam(q.r, "challengeId")
	if _, err := q.call("POST", "/v1/challenges/"+url.PathEscape(id)+"/join", nil, nil, "Idempotency-Key", "app-join-"+id); err != nil {
		q.fail(err)
		return
	}
	q.redirect(Prefix+"/challenges", "flash.joined")
}

type settingsView struct {
	Member member
}

func (a *App) settings(q *request) {
	var m member
	if _, err := q.call("GET", q.memberPath(""), nil, &m); err != nil {
		q.fail(err)
		return
	}
	v := q.view("settings.title", "nav.settings")
	v.Data = settingsView{Member: m}
	q.render("settings", v)
}

// saveProfile changes the member's name and phone (PATCH /v1/members/{id}); the API's field errors are shown
// beside the fields.
func (a *App) saveProfile(q *request) {
	body := map[string]any{"name": strings.TrimSpace(q.r.PostFormValue("name"))}
	if p := strings.TrimSpace(q.r.PostFormValue("phone")); p != "" {
		body["phone"] = p
	}
	if _, err := q.call("PATCH", q.memberPath(""), body, nil); err != nil {
		e, ok := err.(*apiError)
		if !ok || e.Status >= 500 || e.Status == http.StatusUnauthorized {
			q.fail(err)
			return
		}
		var m member
		if _, err := q.call("GET", q.memberPath(""), nil, &m); err != nil {
			q.fail(err)
			return
		}
		m.Name, m.Phone = q.r.PostFormValue("name"), q.r.PostFormValue("phone")
		v := q.view("settings.title", "nav.settings")
		v.Error, v.Errors, v.Data = e.Detail, e.Fields, settingsView{Member: m}
		q.a.render(q.w, q.r, http.StatusUnprocessableEntity, "settings", v)
		return
	}
	q.redirect(Prefix+"/settings", "flash.saved")
}

// saveConsent sets the member's consent per channel as the form's checkboxes say.
func (a *App) saveConsent(q *request) {
	body := map[string]any{"consent": map[string]bool{
		"email": q.r.PostFormValue("consent_email") == "on",
		"sms":   q.r.PostFormValue("consent_sms") == "on",
	}}
	if _, err := q.call("PATCH", q.memberPath(""), body, nil); err != nil {
		q.fail(err)
		return
	}
	q.redirect(Prefix+"/settings", "flash.consent")
}

// export hands the member everything perkflow holds on them (GET /v1/members/{id}/export), as a file.
func (a *App) export(q *request) {
	ans, err := q.call("GET", q.memberPath("/export"), nil, nil)
	if err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("Content-Type", "application/json")
	q.w.Header().Set("Content-Disposition", `attachment; filename="perkflow-my-data-`+strconv.FormatInt(a.now().Unix(), 10)+`.json"`)
	_, _ = q.w.Write(ans.Body)
}

// selfErase is who the app acts as when a member asks for their account to be deleted: the erase route
// (DELETE /v1/members/{id}) is the program's (admin), not the member's token's, so the app calls it in process for
// the signed-in member only, after the member confirmed, and the erasure is recorded under this name.
var selfErase = api.Principal{Role: api.RoleAdmin, KeyName: "member-app: erasure asked by the member"}

func (a *App) deletePage(q *request) {
	v := q.view("delete.title", "nav.settings")
	q.render("delete", v)
}

// deleteAccount starts the erasure of the signed-in member, once they ticked the confirmation, and ends the
// session.
func (a *App) deleteAccount(q *request) {
	if q.r.PostFormValue("confirm") != "on" {
		v := q.view("delete.title", "nav.settings")
		v.Errors["confirm"] = v.T("delete.confirm.missing")
		q.a.render(q.w, q.r, http.StatusUnprocessableEntity, "delete", v)
		return
	}
	ctx := context.WithValue(q.r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, q.memberPath(""), nil)
	if err != nil {
		a.serverError(q.w, q.r, err)
		return
	}
	req.RemoteAddr = q.r.RemoteAddr
	req.Header.Set("Prefer", "wait=10")
	rec := webui.NewRecorder()
	a.cfg.API.ServeAs(selfErase, rec, req)
	if rec.Code != http.StatusAccepted && rec.Code != http.StatusNoContent && rec.Code != http.StatusOK {
		a.serverError(q.w, q.r, fmt.Errorf("erase member: the API answered %d", rec.Code))
		return
	}
	if ck, err := q.r.Cookie(sessionCookie); err == nil {
		_ = a.cfg.Store.EndMemberSession(q.r.Context(), ck.Value, a.now())
	}
	setCookie(q.w, q.r, sessionCookie, "", -1)
	v := q.a.baseView(q.r, "deleted.title")
	q.a.render(q.w, q.r, http.StatusOK, "deleted", v)
}
