package domain

import (
	"strings"
	"testing"
)

func TestRenderKnownTemplatesInTheMembersLocale(t *testing.T) {
	m := Member{Registration: Registration{Name: "Ada Lovelace"}}
	r := Render(Notification{Template: TemplateTierChange, Data: map[string]string{"from": "silver", "to": "gold"}}, m)
	if r.Subject != "You are now gold" || r.Body != "Hello Ada, your tier is now gold (was silver)." {
		t.Fatalf("%+v", r)
	}
	r = Render(Notification{Template: TemplateWelcome, Data: map[string]string{"locale": "fr"}}, m)
	if !strings.HasPrefix(r.Body, "Bonjour Ada") {
		t.Fatalf("fr: %+v", r)
	}
	// A locale without translations falls back to English.
	r = Render(Notification{Template: TemplateWelcome, Data: map[string]string{"locale": "xx"}}, m)
	if !strings.HasPrefix(r.Body, "Hello Ada") {
		t.Fatalf("xx: %+v", r)
	}
	for _, tpl := range []string{TemplateWelcome, TemplateTierChange, TemplatePointsSummary, TemplateRedemption,
		TemplateExpiryReminder, TemplateCampaignAnnouncement, "redemption_completed"} {
		if r := Render(Notification{Template: tpl}, m); r.Subject == "" && tpl != TemplateCampaignAnnouncement || r.Body == "" || strings.Contains(r.Body, "<no value>") {
			t.Errorf("%s without data renders %+v", tpl, r)
		}
	}
}

func TestRenderUnknownTemplateListsItsData(t *testing.T) {
	r := Render(Notification{Template: "challenge_completed", Data: map[string]string{"points": "50", "badge": "Bookworm"}}, Member{})
	if r.Subject != "Challenge completed" || r.Body != "Hello there, challenge completed.\nbadge: Bookworm\npoints: 50" {
		t.Fatalf("%+v", r)
	}
}
