package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryVariable keeps the README's configuration table true to the code: each variable appears
// in a table row with its default.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `") {
			cells := strings.Split(line, "|")
			if len(cells) > 3 {
				rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = cells[2]
			}
		}
	}
	for _, v := range Vars {
		def, ok := rows[v.Name]
		if !ok {
			t.Errorf("README.md has no table row for %s", v.Name)
			continue
		}
		if v.Default != "" && !strings.Contains(def, "`"+v.Default+"`") {
			t.Errorf("README.md gives %s the default %q, the code %q", v.Name, strings.TrimSpace(def), v.Default)
		}
	}
	if !strings.HasPrefix(string(b), "# perkflow\n\n```sh\nmake dev") || !strings.Contains(string(b), "make test") {
		t.Error("README.md must open with the two commands, make dev and make test")
	}
}
