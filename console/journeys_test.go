package console_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// segmentSizeIs waits until the builder shows n members in the segment.
func segmentSizeIs(n string) chromedp.Action[chromedp.Void] {
	return chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](`document.querySelector("#segment-size [data-size]")?.dataset.size === "`+n+`"`,
			chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
		return chromedp.Void{}, err
	})
}

func previewSize(t *testing.T, cs *consoleStack, segment map[string]any) string {
	t.Helper()
	res := cs.Do("POST", "/v1/campaigns/preview", cs.Keys["marketer"], map[string]any{"segment": segment})
	var out struct {
		SegmentSize int64 `json:"segment_size"`
	}
	res.Decode(t, &out)
	return strconv.FormatInt(out.SegmentSize, 10)
}

func setValue(name, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(`[name="`+name+`"]`), value)
}

// marketerJourney: the dashboard; the campaign builder shows the segment's size as it changes (equal to what the
// API's preview counts); a multiplier campaign on coffee is made through it, and a purchase of coffee then earns
// double (checked through the API).
func marketerJourney(t *testing.T, cs *consoleStack, ctx context.Context, member string) {
	signInBrowser(t, ctx, cs.URL, cs.Keys["marketer"])
	do(t, ctx, "dashboard", chromedp.WaitVisible(chromedp.CSS(`#points-h`)), chromedp.WaitVisible(chromedp.CSS(`svg.chart`)))
	screenshot(t, ctx, "dashboard")
	checkAccessibility(t, ctx, "dashboard")

	if status := open(t, ctx, cs.URL+"/console/campaigns/new"); status != http.StatusOK {
		t.Fatalf("builder: %d", status)
	}
	all := previewSize(t, cs, map[string]any{})
	earners := previewSize(t, cs, map[string]any{"min_lifetime_points": 1})
	if all != "2" || earners != "1" {
		t.Fatalf("the API's preview counts %s members, %s who earned", all, earners)
	}
	field := chromedp.CSS(`[name="segment.min_lifetime_points"]`)
	do(t, ctx, "the segment's size as it changes", segmentSizeIs(all),
		chromedp.SendKeys(field, "1"), segmentSizeIs(earners),
		chromedp.SendKeys(field, kb.Backspace), segmentSizeIs(all))

	now := time.Now().UTC().Truncate(time.Minute) // the program's time zone is UTC here
	do(t, ctx, "fill the builder",
		setValue("name", "Double points on coffee"), setValue("kind", "multiplier"),
		setValue("starts_at", now.Format("2006-01-02T15:04")), setValue("ends_at", now.Add(48*time.Hour).Format("2006-01-02T15:04")),
		setValue("rule.conditions.categories", "coffee"), setValue("rule.action.type", "multiplier"), setValue("rule.action.percent", "200"),
		setValue("budget_points", "10000"))
	screenshot(t, ctx, "campaign-builder")
	checkAccessibility(t, ctx, "campaign builder")
	do(t, ctx, "schedule the campaign", chromedp.Click(chromedp.CSS(`#campaign-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#report-h`)))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], cs.URL+"/console/campaigns/")
	var status string
	eventuallyT(t, 30*time.Second, "the campaign active", func() bool {
		res := cs.Do("GET", "/v1/campaigns/"+id, cs.Keys["marketer"], nil)
		var c struct {
			Status string `json:"status"`
		}
		res.Decode(t, &c)
		status = c.Status
		return status == "active"
	})
	if got := accrue(t, cs, "T-COFFEE-1", member, "coffee"); got != 20 {
		t.Fatalf("coffee during the campaign: %d points, want 20 (10 base, doubled)", got)
	}
	if got := accrue(t, cs, "T-BOOK-1", member, "books"); got != 10 {
		t.Fatalf("a book during the coffee campaign: %d points, want 10", got)
	}

	// A draft rule is simulated over the last 30 days as it is typed: another +100 % on coffee would have given the
	// coffee bought above 10 more points (30 instead of 20), and the book nothing more.
	open(t, ctx, cs.URL+"/console/rules/new")
	do(t, ctx, "draft a rule", chromedp.SendKeys(chromedp.CSS(`#name`), "More coffee"),
		chromedp.SendKeys(chromedp.CSS(`[name="conditions.categories"]`), "coffee"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#sim-draft")?.textContent === "10" && document.querySelector("#sim-simulated")?.textContent === "40"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		sim, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#simulation`)))
		t.Fatalf("the draft's simulation: %v: %s", err, sim)
	}
}

func accrue(t *testing.T, cs *consoleStack, txID, member, category string) int64 {
	t.Helper()
	res := cs.Do("POST", "/v1/transactions/accrue", cs.Keys["pos"], map[string]any{
		"transaction_id": txID, "member_id": member, "store_id": "store-1", "channel": "store",
		"occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "total": map[string]any{"amount": 1000, "currency": "EUR"},
		"items": []map[string]any{{"sku": "SKU-" + category, "category": category, "quantity": 1, "unit_price": map[string]any{"amount": 1000, "currency": "EUR"}}},
	}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("accrue %s: %d %s", txID, res.Status, res.Body)
	}
	var a struct {
		PointsEarned int64 `json:"points_earned"`
	}
	res.Decode(t, &a)
	return a.PointsEarned
}

func eventuallyT(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func availableOf(t *testing.T, cs *consoleStack, member string) int64 {
	t.Helper()
	res := cs.Do("GET", "/v1/members/"+member, cs.Keys["support"], nil)
	var m struct {
		Balance struct {
			Available int64 `json:"available"`
		} `json:"balance"`
	}
	res.Decode(t, &m)
	return m.Balance.Available
}

// supportJourney: support finds a member by email (typed as the member says it), sees the balance the API gives,
// adjusts it, and sees the new entry in the history.
func supportJourney(t *testing.T, cs *consoleStack, ctx context.Context, member string) {
	signInBrowser(t, ctx, cs.URL, cs.Keys["support"])
	open(t, ctx, cs.URL+"/console/members")
	checkAccessibility(t, ctx, "find a member")
	do(t, ctx, "find the member by email", setValue("by", "email"), chromedp.SendKeys(chromedp.CSS(`#value`), " Grace@Example.com "),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#balance-available`)))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if strings.Contains(strings.ToLower(loc), "grace") || !strings.HasSuffix(loc, "/console/members/"+member) {
		t.Fatalf("the member page is %s", loc)
	}
	before := availableOf(t, cs, member)
	if shown := text(t, ctx, `#balance-available`); shown != formatPoints(before) {
		t.Fatalf("the page shows %q available, the API %d", shown, before)
	}
	do(t, ctx, "adjust", chromedp.SendKeys(chromedp.CSS(`#points`), "25"), chromedp.SendKeys(chromedp.CSS(`#reason`), "goodwill: late delivery"),
		chromedp.Click(chromedp.CSS(`form[action$="/adjust"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	after := availableOf(t, cs, member)
	if after != before+25 {
		t.Fatalf("available %d after +25 on %d", after, before)
	}
	if shown := text(t, ctx, `#balance-available`); shown != formatPoints(after) {
		t.Fatalf("the page shows %q available after the adjustment, the API %d", shown, after)
	}
	first := text(t, ctx, `#history tbody tr:first-child`)
	if !strings.Contains(first, "adjustment") || !strings.Contains(first, "25") || !strings.Contains(first, "goodwill: late delivery") || !strings.Contains(first, cs.Actors["support"]) {
		t.Fatalf("the newest history entry: %q", first)
	}
	screenshot(t, ctx, "member")
	checkAccessibility(t, ctx, "member page")
	fitsAPhone(t, ctx, "member")
	open(t, ctx, cs.URL+"/console/")
	fitsAPhone(t, ctx, "dashboard-support")
}

// fitsAPhone shows the page at 390 px wide, as a phone does: nothing wider than the screen (tables scroll in their
// own box); a screenshot at that width is kept.
func fitsAPhone(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	do(t, ctx, "a 390 px screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	defer do(t, ctx, "back to 1280 px", chromedp.EmulateReset())
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Errorf("%s is wider than a 390 px screen", name)
	}
	screenshot(t, ctx, name+"-390px")
}

// adminJourney: an admin makes a key (shown once), the key works, the admin revokes it, and it is refused.
func adminJourney(t *testing.T, cs *consoleStack, ctx context.Context) {
	signInBrowser(t, ctx, cs.URL, cs.Keys["admin"])
	open(t, ctx, cs.URL+"/console/api-keys")
	checkAccessibility(t, ctx, "API keys")
	do(t, ctx, "make a key", chromedp.SendKeys(chromedp.CSS(`#key-name`), "till-9"), setValue("role", "pos"),
		chromedp.Click(chromedp.CSS(`form[action="/console/api-keys"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#new-key`)))
	key := text(t, ctx, `#new-key`)
	if !strings.HasPrefix(key, "pk_") {
		t.Fatalf("the new key reads %q", key)
	}
	if res := cs.Do("GET", "/v1/transactions/T-NONE", key, nil); res.Status != http.StatusNotFound {
		t.Fatalf("the new key: %d", res.Status)
	}
	open(t, ctx, cs.URL+"/console/api-keys")
	if body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`main`))); strings.Contains(body, key) {
		t.Fatal("the key is shown again")
	}
	do(t, ctx, "revoke it", chromedp.Click(chromedp.CSS(`form[action="/console/api-keys/till-9/revoke"] button`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if res := cs.Do("GET", "/v1/transactions/T-NONE", key, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("the revoked key: %d", res.Status)
	}
}

// rolesJourney: a marketer neither sees nor reaches the admin pages (403); support cannot edit rules (403).
func rolesJourney(t *testing.T, cs *consoleStack, ctx context.Context) {
	signInBrowser(t, ctx, cs.URL, cs.Keys["marketer"])
	nav := text(t, ctx, `header nav`)
	if strings.Contains(nav, "Settings") || strings.Contains(nav, "API keys") || strings.Contains(nav, "Members") {
		t.Fatalf("the marketer's navigation: %q", nav)
	}
	for _, p := range []string{"/console/settings", "/console/api-keys", "/console/members"} {
		if status := open(t, ctx, cs.URL+p); status != http.StatusForbidden {
			t.Errorf("%s as marketer: %d, want 403", p, status)
		}
	}
	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`.who button`)), chromedp.WaitVisible(chromedp.CSS(`#api_key`)))
	if status := open(t, ctx, cs.URL+"/console/rules"); status != http.StatusOK || !strings.Contains(mustLocation(t, ctx), "/console/sign-in") {
		t.Fatalf("after signing out: %d at %s", status, mustLocation(t, ctx))
	}
	signInBrowser(t, ctx, cs.URL, cs.Keys["support"])
	for _, p := range []string{"/console/rules", "/console/rules/new", "/console/campaigns/new"} {
		if status := open(t, ctx, cs.URL+p); status != http.StatusForbidden {
			t.Errorf("%s as support: %d, want 403", p, status)
		}
	}
}

func mustLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// formatPoints is how the console writes points: thin spaces between thousands.
func formatPoints(n int64) string {
	s := strings.TrimPrefix(strings.TrimSpace(itoa(n)), "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	if n < 0 {
		return "−" + b.String()
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
