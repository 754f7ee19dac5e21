package domain

import (
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// Templates of the messages perkflow sends. Other workflows may send templates of their own: an unknown template
// still renders a plain message from its data.
const (
	TemplateWelcome              = "welcome"
	TemplateTierChange           = "tier_change"
	TemplatePointsSummary        = "points_summary"
	TemplateRedemption           = "redemption"
	TemplateExpiryReminder       = "expiry_reminder"
	TemplateCampaignAnnouncement = "campaign_announcement"
)

// DefaultLocale is used when a member's locale (Data["locale"]) is missing or has no translation.
const DefaultLocale = "en"

// Rendered is a message ready for a channel: SMS uses Body only.
type Rendered struct {
	Subject string
	Body    string
}

type messageTemplate struct{ subject, body string }

// templates per locale and event. They see the member's first name as .Name and the notification's data as .Data.
var templates = map[string]map[string]messageTemplate{
	"en": {
		TemplateWelcome:              {"Welcome to the program", "Hello {{.Name}}, welcome! Every purchase now earns you points."},
		TemplateTierChange:           {"You are now {{.Data.to}}", "Hello {{.Name}}, your tier is now {{.Data.to}}{{with .Data.from}} (was {{.}}){{end}}."},
		TemplatePointsSummary:        {"Your points", "Hello {{.Name}}, you earned {{.Data.points}} points{{with .Data.period}} {{.}}{{end}}. Balance: {{.Data.balance}}."},
		TemplateRedemption:           {"Your reward", "Hello {{.Name}}, your redemption {{.Data.redemption_id}} is {{or .Data.status \"confirmed\"}}.{{with .Data.code}} Your code: {{.}}{{end}}"},
		"redemption_completed":       {"Your reward is ready", "Hello {{.Name}}, your reward is ready.{{with .Data.code}} Your code: {{.}}{{end}}"},
		"redemption_failed":          {"Your reward could not be completed", "Hello {{.Name}}, we could not complete your reward{{with .Data.reason}} ({{.}}){{end}}. Your points are back on your account."},
		"redemption_cancelled":       {"Your reward was cancelled", "Hello {{.Name}}, your reward was cancelled and your points are back on your account."},
		TemplateExpiryReminder:       {"Points expiring soon", "Hello {{.Name}}, {{.Data.points}} of your points expire on {{.Data.expires_at}}. Use them before then!"},
		TemplateCampaignAnnouncement: {"{{.Data.campaign}}", "Hello {{.Name}}, {{.Data.campaign}} runs from {{.Data.starts}} to {{.Data.ends}}.{{with .Data.offer}} {{.}}{{end}}"},
	},
	"fr": {
		TemplateWelcome:              {"Bienvenue dans le programme", "Bonjour {{.Name}}, bienvenue ! Chaque achat vous rapporte désormais des points."},
		TemplateTierChange:           {"Vous êtes maintenant {{.Data.to}}", "Bonjour {{.Name}}, votre niveau est maintenant {{.Data.to}}."},
		TemplatePointsSummary:        {"Vos points", "Bonjour {{.Name}}, vous avez gagné {{.Data.points}} points. Solde : {{.Data.balance}}."},
		TemplateRedemption:           {"Votre récompense", "Bonjour {{.Name}}, votre échange {{.Data.redemption_id}} est {{or .Data.status \"confirmé\"}}.{{with .Data.code}} Votre code : {{.}}{{end}}"},
		TemplateExpiryReminder:       {"Des points expirent bientôt", "Bonjour {{.Name}}, {{.Data.points}} de vos points expirent le {{.Data.expires_at}}."},
		TemplateCampaignAnnouncement: {"{{.Data.campaign}}", "Bonjour {{.Name}}, {{.Data.campaign}} du {{.Data.starts}} au {{.Data.ends}}.{{with .Data.offer}} {{.}}{{end}}"},
	},
}

var parsed = func() map[string]map[string][2]*template.Template {
	out := map[string]map[string][2]*template.Template{}
	for loc, ts := range templates {
		out[loc] = map[string][2]*template.Template{}
		for name, t := range ts {
			out[loc][name] = [2]*template.Template{
				template.Must(template.New(name + ".subject").Option("missingkey=zero").Parse(t.subject)),
				template.Must(template.New(name + ".body").Option("missingkey=zero").Parse(t.body)),
			}
		}
	}
	return out
}()

// Render renders a notification for a member in the locale of its data (Data["locale"], else English). A template
// perkflow does not know renders as a plain message listing its data, so that a new event is never silent.
func Render(n Notification, m Member) Rendered {
	name := firstName(m.Name)
	loc := strings.ToLower(n.Data["locale"])
	if _, ok := parsed[loc]; !ok {
		loc = DefaultLocale
	}
	ts, ok := parsed[loc][n.Template]
	if !ok {
		ts, ok = parsed[DefaultLocale][n.Template]
	}
	if !ok {
		return renderUnknown(n, name)
	}
	data := struct {
		Name string
		Data map[string]string
	}{name, n.Data}
	var subj, body strings.Builder
	if ts[0].Execute(&subj, data) != nil || ts[1].Execute(&body, data) != nil {
		return renderUnknown(n, name)
	}
	return Rendered{Subject: strings.TrimSpace(subj.String()), Body: strings.TrimSpace(body.String())}
}

func renderUnknown(n Notification, name string) Rendered {
	title := strings.ReplaceAll(n.Template, "_", " ")
	if title == "" {
		title = "news"
	}
	title = strings.ToUpper(title[:1]) + title[1:]
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s, %s.", name, strings.ToLower(title))
	keys := make([]string, 0, len(n.Data))
	for k := range n.Data {
		if k != "locale" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n%s: %s", strings.ReplaceAll(k, "_", " "), n.Data[k])
	}
	return Rendered{Subject: title, Body: b.String()}
}

func firstName(full string) string {
	if f := strings.Fields(full); len(f) > 0 {
		return f[0]
	}
	return "there"
}
