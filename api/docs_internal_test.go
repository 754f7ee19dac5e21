package api

import (
	"strings"
	"testing"
)

// TestEveryProblemTypeIsDescribed: a code added to the error table needs its description on /docs/problems, where
// its type leads.
func TestEveryProblemTypeIsDescribed(t *testing.T) {
	page := strings.Builder{}
	for _, e := range problemEntries() {
		if e.Doc == "" {
			t.Errorf("problem type %s (%d) has no description in problemDocs", e.Slug, e.Status)
		}
		page.WriteString(e.Slug + " ")
	}
	for slug := range problemDocs {
		if !strings.Contains(page.String(), slug+" ") {
			t.Errorf("problemDocs describes %s, which no error code answers", slug)
		}
	}
}
