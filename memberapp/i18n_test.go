package memberapp

import (
	"net/http"
	"strings"
	"testing"
)

// Every message exists in both languages, with the same verbs.
func TestMessagesInBothLanguages(t *testing.T) {
	for key, en := range messages["en"] {
		fr, ok := messages["fr"][key]
		if !ok {
			t.Errorf("%s has no French", key)
			continue
		}
		if strings.Count(en, "%") != strings.Count(fr, "%") {
			t.Errorf("%s: %q and %q do not take the same arguments", key, en, fr)
		}
	}
	for key := range messages["fr"] {
		if _, ok := messages["en"][key]; !ok {
			t.Errorf("%s has no English", key)
		}
	}
}

func TestLanguageByAcceptLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"": "en", "fr": "fr", "fr-CA,fr;q=0.9": "fr", "de-DE,fr;q=0.8,en;q=0.5": "fr", "en-GB,fr;q=0.3": "en", "de": "en",
		"en;q=0.2, fr;q=0.7": "fr",
	} {
		r, _ := http.NewRequest("GET", "/app/", nil)
		r.Header.Set("Accept-Language", header)
		if got := langOf(r); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}
