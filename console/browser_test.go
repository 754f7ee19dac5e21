package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	chrome "github.com/perkflow/perkflow/internal/testkit/browser"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// The console in a real browser: Debian's Chromium, headless, driven from Go over the DevTools protocol, against
// the real stack (Postgres, in-process Temporal, the worker, the API with the console beside it). Screenshots of the
// dashboard, the campaign builder and the member page, and the journeys' timings, are written to screenshotDir.

// screenshotDir is where the browser tests leave what a reviewer looks at (git-ignored).
const screenshotDir = "testdata/screenshots"

// startBrowser starts one headless Chromium for the test, with a fresh profile, at a desktop's size.
func startBrowser(t *testing.T) context.Context { return chrome.Start(t, 1280, 900) }

var (
	tab                = chrome.Tab
	do                 = chrome.Do
	text               = chrome.Text
	checkAccessibility = chrome.CheckAccessibility
)

// open navigates and returns the answer's status, checking that every page carries the CSP and X-Frame-Options.
func open(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	return chrome.Open(t, ctx, url, wantCSP)
}

func signInBrowser(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	open(t, ctx, base+"/console/sign-in")
	do(t, ctx, "sign in", chromedp.SendKeys(chromedp.CSS(`#api_key`), key), chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)))
}

func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	return chrome.Screenshot(t, ctx, screenshotDir, name)
}

type timing struct {
	name string
	took time.Duration
}

// TestConsoleInABrowser runs the journeys of the console in one Chromium, each person in a browser context of
// their own, against one stack.
func TestConsoleInABrowser(t *testing.T) {
	browser := startBrowser(t)
	cs := newConsoleStack(t, itest.Options{})
	var timings []timing
	journey := func(name string, f func(t *testing.T)) {
		start := time.Now()
		ok := t.Run(name, f)
		timings = append(timings, timing{name, time.Since(start)})
		if !ok {
			t.FailNow()
		}
	}
	grace := registerMember(t, cs, "grace@example.com")
	ada := registerMember(t, cs, "ada@example.net")
	adjust(t, cs, ada, 40) // ada has earned points, grace none: segments can tell them apart

	journey("marketer builds a multiplier campaign and a purchase earns it", func(t *testing.T) {
		marketerJourney(t, cs, tab(t, browser), grace)
	})
	journey("support finds a member by email and adjusts", func(t *testing.T) {
		supportJourney(t, cs, tab(t, browser), grace)
	})
	journey("admin makes and revokes an API key", func(t *testing.T) {
		adminJourney(t, cs, tab(t, browser))
	})
	journey("roles: marketer kept from admin pages, support from rules", func(t *testing.T) {
		rolesJourney(t, cs, tab(t, browser))
	})
	var b strings.Builder
	for _, tm := range timings {
		fmt.Fprintf(&b, "%-60s %s\n", tm.name, tm.took.Round(10*time.Millisecond))
	}
	t.Logf("journeys:\n%s", b.String())
	if err := os.WriteFile(filepath.Join(screenshotDir, "timings.txt"), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}

func adjust(t *testing.T, cs *consoleStack, member string, points int64) {
	t.Helper()
	res := cs.Do("POST", "/v1/members/"+member+"/adjustments", cs.Keys["support"], map[string]any{
		"adjustment_id": "SEED-" + member, "points": points, "reason": "seed"}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("adjust: %d %s", res.Status, res.Body)
	}
}
