package archtest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// everywhere are the statuses docs/api.md says every route may answer and leaves out of its tables.
var everywhere = []string{"401", "403", "413", "415", "429", "500"}

// docRoute is a row of a route table of docs/api.md.
type docRoute struct {
	line     int
	roles    []string
	statuses []string
}

// operation is what the test reads of an operation of api/openapi.yaml.
type operation struct {
	Roles     []string       `yaml:"x-roles"`
	Responses map[string]any `yaml:"responses"`
}

// TestAPIDocListsEveryRoute keeps docs/api.md true to api/openapi.yaml (which the API's tests keep true to the
// router): every operation has its row, with its roles and the statuses it answers beyond those every route may
// answer, and no route is both served and listed as not served yet.
func TestAPIDocListsEveryRoute(t *testing.T) {
	spec := readSpec(t)
	served, notYet := readDocRoutes(t)
	for key, op := range spec {
		row, ok := served[key]
		if !ok {
			if _, later := notYet[key]; later {
				t.Errorf("%s is served (api/openapi.yaml) but docs/api.md lists it under \"Not served yet\": move it to the route tables", key)
			} else {
				t.Errorf("docs/api.md has no row for %s", key)
			}
			continue
		}
		if want := sortedCopy(op.Roles); !slices.Equal(row.roles, want) {
			t.Errorf("docs/api.md:%d: %s allows %v; api/openapi.yaml says %v", row.line, key, row.roles, want)
		}
		var want []string
		for code := range op.Responses {
			if !slices.Contains(everywhere, code) {
				want = append(want, code)
			}
		}
		slices.Sort(want)
		if !slices.Equal(row.statuses, want) {
			t.Errorf("docs/api.md:%d: %s answers %v; api/openapi.yaml says %v (besides %v)", row.line, key, row.statuses, want, everywhere)
		}
	}
	for key, row := range served {
		if _, ok := spec[key]; !ok {
			t.Errorf("docs/api.md:%d lists %s, which api/openapi.yaml (and so the router) does not have", row.line, key)
		}
	}
}

// readSpec reads the operations of api/openapi.yaml by "METHOD path".
func readSpec(t *testing.T) map[string]operation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]operation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	ops := map[string]operation{}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	if len(ops) == 0 {
		t.Fatal("api/openapi.yaml has no operations")
	}
	return ops
}

// readDocRoutes reads the route rows of docs/api.md — | METHOD | `path` | roles | statuses | … — those of the section
// "Not served yet" apart.
func readDocRoutes(t *testing.T) (served, notYet map[string]docRoute) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	served, notYet = map[string]docRoute{}, map[string]docRoute{}
	later := false
	for i, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			later = strings.HasPrefix(strings.ToLower(h), "not served")
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, strings.TrimSpace(cells[1])) {
			continue
		}
		path := strings.TrimSpace(cells[2])
		if !strings.HasPrefix(path, "`") || !strings.HasSuffix(path, "`") {
			t.Errorf("docs/api.md:%d: the path %s is not in backquotes", i+1, path)
			continue
		}
		key := strings.TrimSpace(cells[1]) + " " + strings.Trim(path, "`")
		row := docRoute{line: i + 1}
		for _, r := range strings.Split(cells[3], ",") {
			if f := strings.Fields(r); len(f) > 0 {
				row.roles = append(row.roles, f[0])
			}
		}
		slices.Sort(row.roles)
		table := served
		if later {
			table = notYet
		} else {
			for _, s := range strings.Split(cells[4], ",") {
				s = strings.TrimSpace(s)
				if _, err := strconv.Atoi(s); err != nil || len(s) != 3 {
					t.Errorf("docs/api.md:%d: %q is not a status", i+1, s)
					continue
				}
				row.statuses = append(row.statuses, s)
			}
			slices.Sort(row.statuses)
		}
		if _, dup := served[key]; dup {
			t.Errorf("docs/api.md:%d: %s is listed twice", i+1, key)
		}
		if _, dup := notYet[key]; dup {
			t.Errorf("docs/api.md:%d: %s is listed twice", i+1, key)
		}
		table[key] = row
	}
	if len(served) == 0 {
		t.Fatal("docs/api.md has no route rows")
	}
	return served, notYet
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
