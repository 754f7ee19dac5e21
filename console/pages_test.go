package console_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/console"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// fieldError reports whether the page shows msg as the error of the field named name, beside it.
func fieldError(body, id, msg string) bool {
	re := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*aria-invalid="true"[^>]*>\s*<p class="note" id="` +
		regexp.QuoteMeta(id) + `-note"><span class="error">[^<]*` + regexp.QuoteMeta(msg))
	return re.MatchString(body)
}

// TestMarketerPagesWriteThroughTheAPI: rules (with the draft's simulation), offers, challenges and campaign actions
// made through the console's forms are what the API then answers; the API's refusals show beside their fields.
func TestMarketerPagesWriteThroughTheAPI(t *testing.T) {
	cs := newConsoleStack(t, itest.Options{})
	b := cs.browser(t).signIn(cs.Keys["marketer"])
	mk := cs.Keys["marketer"]

	// A rule: simulated as drafted, refused without a name (the API's message beside the field), then saved.
	draft := url.Values{"name": {"Coffee x3"}, "priority": {"5"}, "mode": {"stackable"}, "conditions.categories": {"coffee"},
		"action.type": {"multiplier"}, "action.percent": {"300"}}
	sim := b.do("POST", "/console/rules/simulate", draft, "X-CSRF-Token", csrfOf(t, b, "/console/rules/new"), "HX-Request", "true")
	if sim.Status != http.StatusOK || !strings.Contains(sim.Body, "Would have issued with the draft") {
		t.Fatalf("simulation: %d %s", sim.Status, sim.Body)
	}
	bad := cloneValues(draft)
	bad.Set("name", "")
	p := b.post("/console/rules/new", "/console/rules", bad)
	if p.Status != http.StatusUnprocessableEntity || !fieldError(p.Body, "name", "must be") {
		t.Fatalf("a rule without a name: %d %s", p.Status, problemOf(p.Body))
	}
	if p := b.post("/console/rules/new", "/console/rules", draft); p.Status != http.StatusSeeOther {
		t.Fatalf("save rule: %d %s", p.Status, problemOf(p.Body))
	}
	var rules struct {
		Items []struct {
			RuleID string         `json:"rule_id"`
			Name   string         `json:"name"`
			Action map[string]any `json:"action"`
		} `json:"items"`
	}
	cs.Do("GET", "/v1/rules", mk, nil).Decode(t, &rules)
	var ruleID string
	for _, r := range rules.Items {
		if r.Name == "Coffee x3" && r.Action["percent"] == float64(300) {
			ruleID = r.RuleID
		}
	}
	if ruleID == "" {
		t.Fatalf("the rule saved through the console is not in the API: %+v", rules)
	}
	if p := b.get("/console/rules/" + ruleID); p.Status != http.StatusOK || !strings.Contains(p.Body, `value="Coffee x3"`) || !strings.Contains(p.Body, `value="coffee"`) {
		t.Fatalf("the rule's editor: %d", p.Status)
	}
	if p := b.post("/console/rules/"+ruleID, "/console/rules/"+ruleID+"/delete", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete rule: %d", p.Status)
	}
	if res := cs.Do("GET", "/v1/rules/"+ruleID, mk, nil); res.Status != http.StatusNotFound {
		t.Fatalf("the deleted rule: %d", res.Status)
	}

	// An offer: a value that is not a number, then one the API refuses, then made, edited and archived.
	offer := url.Values{"title": {"Mug"}, "points_cost": {"abc"}, "stock": {"3"}, "cancel_window_minutes": {"30"}}
	if p := b.post("/console/offers/new", "/console/offers", offer); p.Status != http.StatusUnprocessableEntity || !fieldError(p.Body, "points_cost", "must be a whole number") {
		t.Fatalf("points_cost abc: %d %s", p.Status, problemOf(p.Body))
	}
	offer.Set("points_cost", "-5")
	if p := b.post("/console/offers/new", "/console/offers", offer); p.Status != http.StatusUnprocessableEntity || !fieldError(p.Body, "points_cost", "must be between") {
		t.Fatalf("points_cost -5: %d %s", p.Status, problemOf(p.Body))
	}
	offer.Set("points_cost", "120")
	p = b.post("/console/offers/new", "/console/offers", offer)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("make offer: %d %s", p.Status, problemOf(p.Body))
	}
	offerPath := strings.SplitN(p.Header.Get("Location"), "?", 2)[0]
	id := strings.TrimPrefix(offerPath, "/console/offers/")
	edit := url.Values{"title": {"Big mug"}, "points_cost": {"150"}, "add_stock": {"2"}, "cancel_window_minutes": {"30"}, "eligible_tiers": {"gold"}}
	if p := b.post(offerPath, offerPath, edit); p.Status != http.StatusSeeOther {
		t.Fatalf("edit offer: %d %s", p.Status, problemOf(p.Body))
	}
	var o struct {
		Title          string   `json:"title"`
		PointsCost     int64    `json:"points_cost"`
		Stock          int64    `json:"stock"`
		StockRemaining int64    `json:"stock_remaining"`
		EligibleTiers  []string `json:"eligible_tiers"`
		Status         string   `json:"status"`
	}
	cs.Do("GET", "/v1/offers/"+id, mk, nil).Decode(t, &o)
	if o.Title != "Big mug" || o.PointsCost != 150 || o.Stock != 5 || o.StockRemaining != 5 || len(o.EligibleTiers) != 1 {
		t.Fatalf("the offer edited through the console: %+v", o)
	}
	// A minimum tier in place of the exact list: silver and every tier above.
	tiered := url.Values{"title": {"Big mug"}, "points_cost": {"150"}, "cancel_window_minutes": {"30"}, "min_tier": {"silver"}}
	if p := b.post(offerPath, offerPath, tiered); p.Status != http.StatusSeeOther {
		t.Fatalf("offer for silver and above: %d %s", p.Status, problemOf(p.Body))
	}
	var mt struct {
		EligibleTiers []string `json:"eligible_tiers"`
		MinTier       string   `json:"min_tier"`
	}
	cs.Do("GET", "/v1/offers/"+id, mk, nil).Decode(t, &mt)
	if mt.MinTier != "silver" || len(mt.EligibleTiers) != 0 {
		t.Fatalf("min_tier through the console: %+v", mt)
	}
	if page := b.get(offerPath); !strings.Contains(page.Body, `<option value="silver" selected>`) {
		t.Fatal("the offer form does not show its minimum tier")
	}
	tiered.Set("eligible_tiers", "gold")
	if p := b.post(offerPath, offerPath, tiered); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "not both") {
		t.Fatalf("eligible tiers and a minimum tier both: %d", p.Status)
	}
	edit.Set("add_stock", "-9")
	if p := b.post(offerPath, offerPath, edit); p.Status != http.StatusConflict {
		t.Fatalf("removing more stock than is left: %d", p.Status)
	}
	if p := b.post(offerPath, offerPath+"/archive", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("archive: %d", p.Status)
	}
	cs.Do("GET", "/v1/offers/"+id, mk, nil).Decode(t, &o)
	if o.Status != "archived" {
		t.Fatalf("archived offer: %+v", o)
	}
	if p := b.get("/console/offers?status=archived"); !strings.Contains(p.Body, "Big mug") {
		t.Fatal("the archived offer is not listed under archived")
	}

	// A challenge: without a deadline the API's message shows beside ends_at; with one it is made.
	noDeadline := url.Values{"name": {"Five coffees"}, "goal.kind": {"purchases"}, "goal.target": {"5"}, "reward_points": {"50"}, "token": {"ch-0"}}
	if p := b.post("/console/challenges", "/console/challenges", noDeadline); p.Status != http.StatusUnprocessableEntity || !fieldError(p.Body, "ch-ends", "a challenge needs a deadline") {
		t.Fatalf("a challenge without a deadline: %d %s", p.Status, problemOf(p.Body))
	}
	ch := url.Values{"name": {"Five coffees"}, "goal.kind": {"purchases"}, "goal.target": {"5"}, "reward_points": {"50"}, "window_days": {"30"}, "token": {"ch-1"}}
	if p := b.post("/console/challenges", "/console/challenges", ch); p.Status != http.StatusSeeOther {
		t.Fatalf("challenge: %d %s", p.Status, problemOf(p.Body))
	}
	if res := cs.Do("GET", "/v1/challenges", mk, nil); !strings.Contains(string(res.Body), "Five coffees") {
		t.Fatalf("challenges: %s", res.Body)
	}

	// A recurring campaign from the builder: the recurrence in words became its cron expression, the run's days and
	// hours its run_length, and its last date its until.
	start := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Minute)
	camp := url.Values{"name": {"Friday treat"}, "kind": {"bonus"}, "bonus_points": {"5"}, "token": {"camp-1"},
		"starts_at": {start.Format("2006-01-02T15:04")}, "run_length.hours": {"2"}, "until": {start.AddDate(0, 2, 0).Format("2006-01-02T15:04")},
		"recurrence.every": {"week"}, "recurrence.weekday": {"5"}, "recurrence.at": {"18:30"}}
	p = b.post("/console/campaigns/new", "/console/campaigns", camp)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("recurring campaign: %d %s", p.Status, problemOf(p.Body))
	}
	campaignID := strings.TrimPrefix(strings.SplitN(p.Header.Get("Location"), "?", 2)[0], "/console/campaigns/")
	var c struct {
		Schedule, Status string
		RunLength        string    `json:"run_length"`
		Until            time.Time `json:"until"`
	}
	cs.Do("GET", "/v1/campaigns/"+campaignID, mk, nil).Decode(t, &c)
	if c.Schedule != "30 18 * * 5" || c.RunLength != "PT2H" || !c.Until.Equal(start.AddDate(0, 2, 0)) {
		t.Fatalf("schedule %q, run length %q, until %s; want every Friday at 18:30 UTC, two hours each, until %s", c.Schedule, c.RunLength, c.Until, start.AddDate(0, 2, 0))
	}
	if p := b.get("/console/campaigns/" + campaignID); p.Status != http.StatusOK || !strings.Contains(p.Body, "30 18 * * 5") {
		t.Fatalf("campaign report: %d", p.Status)
	}
	if p := b.post("/console/campaigns/"+campaignID, "/console/campaigns/"+campaignID+"/cancel", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("cancel campaign: %d %s", p.Status, problemOf(p.Body))
	}
	eventuallyT(t, 30*time.Second, "the campaign cancelled", func() bool {
		cs.Do("GET", "/v1/campaigns/"+campaignID, mk, nil).Decode(t, &c)
		return c.Status == "cancelled"
	})

	actions, err := cs.Store.ConsoleActions(context.Background(), cs.Actors["marketer"])
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]int{}
	for _, a := range actions {
		audited[a.Action]++
	}
	for _, want := range []string{"POST /console/rules", "POST /console/rules/{ruleId}/delete", "POST /console/offers", "POST /console/offers/{offerId}",
		"POST /console/offers/{offerId}/archive", "POST /console/challenges", "POST /console/campaigns/{campaignId}/{action}"} {
		if audited[want] == 0 {
			t.Errorf("no audit of %s: %v", want, audited)
		}
	}
}

func csrfOf(t *testing.T, b *browser, path string) string { t.Helper(); return b.csrf(path) }

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// TestAdminAndSupportPagesKeepPersonalDataOutOfURLsAndLogs: settings saved through the form are the API's; a
// refused setting shows beside its field; support's search by email and phone is posted and neither value reaches
// a URL or a log line.
func TestAdminAndSupportPagesKeepPersonalDataOutOfURLsAndLogs(t *testing.T) {
	var logs testkit.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := itest.NewStack(t, temporal, itest.Options{Log: log})
	c, err := console.New(console.Config{API: s.Server, Store: s.Store, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	cs := &consoleStack{Stack: s, Console: c}
	srv := newServer(t, c.Beside(s.Server.Handler()))
	cs.URL = srv

	admin := cs.browser(t).signIn(cs.Keys["admin"])
	form := settingsForm(t, admin)
	if got := form.Get("retro_claim_days"); got != "30" {
		t.Fatalf("the form shows retro_claim_days %q, want the default 30", got)
	}
	if got := form["qualifying_kinds"]; strings.Join(got, ",") != "purchase,campaign" {
		t.Fatalf("the form shows qualifying kinds %v, want the default purchase, campaign", got)
	}
	form.Set("pending_days", "3")
	form.Set("retro_claim_days", "90")
	form.Add("qualifying_kinds", "challenge")
	if p := admin.post("/console/settings", "/console/settings", form); p.Status != http.StatusSeeOther {
		t.Fatalf("save settings: %d %s", p.Status, problemOf(p.Body))
	}
	var prog struct {
		PendingDays     int      `json:"pending_days"`
		RetroClaimDays  *int     `json:"retro_claim_days"`
		QualifyingKinds []string `json:"qualifying_kinds"`
	}
	cs.Do("GET", "/v1/program", cs.Keys["admin"], nil).Decode(t, &prog)
	if prog.PendingDays != 3 || prog.RetroClaimDays == nil || *prog.RetroClaimDays != 90 ||
		strings.Join(prog.QualifyingKinds, ",") != "purchase,campaign,challenge" {
		t.Fatalf("pending_days %d, retro_claim_days %v, qualifying_kinds %v after the form", prog.PendingDays, prog.RetroClaimDays, prog.QualifyingKinds)
	}
	if got := settingsForm(t, admin).Get("retro_claim_days"); got != "90" {
		t.Fatalf("the form shows retro_claim_days %q after saving 90", got)
	}
	form.Set("time_zone", "Mars/Olympus")
	if p := admin.post("/console/settings", "/console/settings", form); p.Status != http.StatusUnprocessableEntity || !fieldError(p.Body, "time_zone", "must be an IANA time zone") {
		t.Fatalf("a bad time zone: %d %s", p.Status, problemOf(p.Body))
	}

	member := registerMember(t, cs, "private.person@example.com")
	support := cs.browser(t).signIn(cs.Keys["support"])
	for by, value := range map[string]string{"email": "Private.Person@example.com", "phone": "+33 6 12 34 56 78", "member_id": member} {
		p := support.post("/console/members", "/console/members/find", url.Values{"by": {by}, "value": {value}})
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/members/"+member {
			t.Fatalf("find by %s: %d %s", by, p.Status, p.Header.Get("Location"))
		}
	}
	if p := support.post("/console/members", "/console/members/find", url.Values{"by": {"email"}, "value": {"nobody@example.com"}}); p.Status != http.StatusNotFound || !fieldError(p.Body, "value", "no member has exactly this email") {
		t.Fatalf("find nobody: %d %s", p.Status, problemOf(p.Body))
	}
	if p := support.get("/console/members/" + member); p.Status != http.StatusOK || !strings.Contains(p.Body, "private.person@example.com") {
		t.Fatalf("member page: %d", p.Status)
	}
	// A redemption the member made is cancelled from their page, within its window.
	offer := cs.Do("POST", "/v1/offers", cs.Keys["admin"], map[string]any{"title": "Coffee", "points_cost": 10})
	var o struct {
		OfferID string `json:"offer_id"`
	}
	offer.Decode(t, &o)
	cs.Do("POST", "/v1/members/"+member+"/adjustments", cs.Keys["support"], map[string]any{"adjustment_id": "GIFT-1", "points": 50, "reason": "gift"}, "Prefer", "wait=20")
	claim := cs.Do("POST", "/v1/offers/"+o.OfferID+"/claim", cs.MemberToken(member), nil, "Prefer", "wait=20")
	var red struct {
		RedemptionID string `json:"redemption_id"`
		Status       string `json:"status"`
	}
	claim.Decode(t, &red)
	eventuallyT(t, 60*time.Second, "the claim completed", func() bool {
		cs.Do("GET", "/v1/redemptions/"+red.RedemptionID, cs.Keys["support"], nil).Decode(t, &red)
		return red.Status == "completed"
	})
	memberPage := "/console/members/" + member
	if p := support.get(memberPage); !strings.Contains(p.Body, "/redemptions/"+red.RedemptionID+"/cancel") {
		t.Fatal("the member page offers no cancel for a redemption within its window")
	}
	if p := support.post(memberPage, memberPage+"/redemptions/"+red.RedemptionID+"/cancel", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", p.Status, problemOf(p.Body))
	}
	eventuallyT(t, 60*time.Second, "the redemption cancelled", func() bool {
		cs.Do("GET", "/v1/redemptions/"+red.RedemptionID, cs.Keys["support"], nil).Decode(t, &red)
		return red.Status == "cancelled"
	})
	cs.LedgerInvariants()

	for _, secret := range []string{"private.person", "Private.Person", "12 34 56 78", "612345678", cs.Keys["support"], cs.Keys["admin"]} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a log line holds %q", secret)
		}
	}
	if lookups, _ := cs.Store.MemberLookups(context.Background(), cs.Actors["support"]); len(lookups) != 3 {
		t.Fatalf("support's lookups: %+v", lookups)
	}
}

var checkedKind = regexp.MustCompile(`name="qualifying_kinds" value="([^"]+)" checked`)

var inputValue = regexp.MustCompile(`<input id="([^"]+)" name="([^"]+)" type="[^"]*" value="([^"]*)"`)

// settingsForm is the settings form as the page fills it.
func settingsForm(t *testing.T, b *browser) url.Values {
	t.Helper()
	p := b.get("/console/settings")
	v := url.Values{}
	for _, m := range inputValue.FindAllStringSubmatch(p.Body, -1) {
		v.Set(m[2], htmlUnescape(m[3]))
	}
	if strings.Contains(p.Body, `name="allow_negative_on_return" value="on" checked`) {
		v.Set("allow_negative_on_return", "on")
	}
	for _, m := range checkedKind.FindAllStringSubmatch(p.Body, -1) {
		v.Add("qualifying_kinds", m[1])
	}
	if v.Get("currency") == "" || v.Get("tiers[0].code") == "" {
		t.Fatalf("settings form: %v", v)
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}
