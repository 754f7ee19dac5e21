package archtest

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/perkflow/perkflow"

// pkg is what `go list` says of one of perkflow's packages. Perkflow paths are cut to what follows the module
// path ("github.com/perkflow/perkflow/api" → "api").
type pkg struct {
	Path string
	// Ours are the perkflow packages its non-test files import; Others the rest they import (whole paths).
	Ours, Others []string
	// Deps are the perkflow packages its non-test files depend on, directly or not; OtherDeps the rest.
	Deps, OtherDeps []string
	// TestOurs are the perkflow packages its _test.go files (internal and external) import besides Ours and
	// itself; TestOthers the rest they import besides Others.
	TestOurs, TestOthers []string
}

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var (
	listMu    sync.Mutex
	listCache = map[string][]pkg{}
)

// goList lists every package of the module as built with tags ("" or "nodev").
func goList(t *testing.T, tags string) []pkg {
	t.Helper()
	listMu.Lock()
	defer listMu.Unlock()
	if p, ok := listCache[tags]; ok {
		return p
	}
	const format = `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`
	cmd := exec.Command("go", "list", "-tags", tags, "-f", format, "./...")
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -tags %q ./...: %v\n%s", tags, err, stderr.String())
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			t.Fatalf("go list printed %q", line)
		}
		p := pkg{Path: strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")}
		p.Ours, p.Others = split(f[1])
		p.Deps, p.OtherDeps = split(f[2])
		testOurs, testOthers := split(f[3])
		for _, imp := range testOurs {
			if imp != p.Path && !slices.Contains(p.Ours, imp) && !slices.Contains(p.TestOurs, imp) {
				p.TestOurs = append(p.TestOurs, imp)
			}
		}
		for _, imp := range testOthers {
			if !slices.Contains(p.Others, imp) && !slices.Contains(p.TestOthers, imp) {
				p.TestOthers = append(p.TestOthers, imp)
			}
		}
		slices.Sort(p.TestOurs)
		slices.Sort(p.TestOthers)
		pkgs = append(pkgs, p)
	}
	listCache[tags] = pkgs
	return pkgs
}

// split sorts space-separated import paths into perkflow's (cut to their path in the module) and the others.
func split(s string) (ours, others []string) {
	for _, f := range strings.Fields(s) {
		if rest, ok := strings.CutPrefix(f, module+"/"); ok {
			ours = append(ours, rest)
		} else {
			others = append(others, f)
		}
	}
	return ours, others
}

// under says whether path is dir or inside it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// isStdlib says whether an import path is the standard library's (no dot in its first element).
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
