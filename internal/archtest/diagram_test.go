package archtest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated blocks of docs/architecture.md from the code")

// generated blocks of docs/architecture.md, each between <!-- generated:NAME --> and <!-- /generated:NAME -->.
var generated = map[string]func(def, nodev []pkg) string{
	"import-diagram": importDiagram,
	"import-list":    importList,
	"test-imports":   testImports,
}

// TestArchitectureDocShowsTheImportGraph keeps the package diagram of docs/architecture.md the one `go list` gives.
// With -update it rewrites the blocks instead.
func TestArchitectureDocShowsTheImportGraph(t *testing.T) {
	file := filepath.Join(root(t), "docs", "architecture.md")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	def, nodev := goList(t, ""), goList(t, "nodev")
	names := make([]string, 0, len(generated))
	for name := range generated {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		begin, end := "<!-- generated:"+name+" -->\n", "<!-- /generated:"+name+" -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("docs/architecture.md has no block %s…%s", strings.TrimSpace(begin), end)
			continue
		}
		want := generated[name](def, nodev)
		if got := doc[i+len(begin) : j]; got != want {
			if *update {
				doc = doc[:i+len(begin)] + want + doc[j:]
				continue
			}
			t.Errorf("docs/architecture.md's %s is not the code's; run\n\tgo test ./internal/archtest -run %s -update\n"+
				"--- the code's:\n%s--- the document's:\n%s", name, t.Name(), want, got)
		}
	}
	if *update && doc != string(b) {
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// production are the packages the product is built from (not test support), by path.
func production(pkgs []pkg) map[string]pkg {
	out := map[string]pkg{}
	for _, p := range pkgs {
		if !isTestSupport(p.Path) {
			out[p.Path] = p
		}
	}
	return out
}

// importList is every perkflow import of every package, one line each; an import marked * is left out of the
// production build (-tags nodev).
func importList(def, nodev []pkg) string {
	prodNodev := map[string]pkg{}
	for _, p := range nodev {
		prodNodev[p.Path] = p
	}
	width := 0
	for _, p := range def {
		width = max(width, len(p.Path))
	}
	var b strings.Builder
	b.WriteString("```text\n")
	starred := false
	for _, p := range def {
		var imps []string
		for _, imp := range p.Ours {
			if n, ok := prodNodev[p.Path]; ok && !slices.Contains(n.Ours, imp) {
				imp += "*"
				starred = true
			}
			imps = append(imps, imp)
		}
		line := "(no perkflow package)"
		if len(imps) > 0 {
			line = strings.Join(imps, ", ")
		}
		fmt.Fprintf(&b, "%-*s → %s\n", width, p.Path, line)
	}
	if starred {
		b.WriteString("\n* not in the production build (go build -tags nodev ./cmd/perkflow)\n")
	}
	b.WriteString("```\n")
	return b.String()
}

// testImports is, for each package whose tests import perkflow packages its code does not, those packages.
func testImports(def, _ []pkg) string {
	width := 0
	for _, p := range def {
		if len(p.TestOurs) > 0 {
			width = max(width, len(p.Path))
		}
	}
	var b strings.Builder
	b.WriteString("```text\n")
	for _, p := range def {
		if len(p.TestOurs) > 0 {
			fmt.Fprintf(&b, "%-*s + %s\n", width, p.Path, strings.Join(p.TestOurs, ", "))
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// importDiagram draws the production packages and their imports as a Mermaid flowchart: solid arrows for the
// production build (-tags nodev), dashed ones for what only the default build adds (perkflow dev and perkflow
// bench). It leaves out each arrow that other arrows already imply (A → C when A → B → … → C), so that the layers
// show; importList has every import.
func importDiagram(def, nodev []pkg) string {
	prod, prodNodev := production(def), production(nodev)
	paths := make([]string, 0, len(prod))
	for p := range prod {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	edgesOf := func(pkgs map[string]pkg) map[string][]string {
		edges := map[string][]string{}
		for p, pk := range pkgs {
			for _, imp := range pk.Ours {
				if _, ok := pkgs[imp]; ok {
					edges[p] = append(edges[p], imp)
				}
			}
		}
		return edges
	}
	solid, all := edgesOf(prodNodev), edgesOf(prod)
	id := func(p string) string { return strings.NewReplacer("/", "_", "-", "_").Replace(p) }
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart TD\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", id(p), p)
	}
	for _, p := range paths {
		for _, imp := range solid[p] {
			if !implied(solid, p, imp) {
				fmt.Fprintf(&b, "  %s --> %s\n", id(p), id(imp))
			}
		}
	}
	for _, p := range paths {
		for _, imp := range all[p] {
			if !slices.Contains(solid[p], imp) && !implied(all, p, imp) {
				fmt.Fprintf(&b, "  %s -. dev build .-> %s\n", id(p), id(imp))
			}
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// implied says whether edges lead from → to other than by the direct arrow.
func implied(edges map[string][]string, from, to string) bool {
	seen := map[string]bool{}
	var reaches func(at string, first bool) bool
	reaches = func(at string, first bool) bool {
		if at == to && !first {
			return true
		}
		if seen[at] {
			return false
		}
		seen[at] = true
		for _, next := range edges[at] {
			if first && next == to {
				continue
			}
			if reaches(next, false) {
				return true
			}
		}
		return false
	}
	return reaches(from, true)
}
