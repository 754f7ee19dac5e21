package webui

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// ParsePages parses each template of the folder "templates" of files into a page of its own, named by its file
// without ".html": the shared files (the layout, partials; paths in files) first, then the page's own. The shared
// files are no page. what names the front end in errors ("console").
func ParsePages(files fs.FS, funcs template.FuncMap, what string, shared ...string) (map[string]*template.Template, error) {
	names, err := fs.ReadDir(files, "templates")
	if err != nil {
		return nil, err
	}
	isShared := map[string]bool{}
	for _, s := range shared {
		isShared[path.Base(s)] = true
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if isShared[n.Name()] {
			continue
		}
		name := strings.TrimSuffix(n.Name(), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(files, append(append([]string{}, shared...), path.Join("templates", n.Name()))...)
		if err != nil {
			return nil, fmt.Errorf("%s template %s: %w", what, name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// FormatPoints writes points with narrow no-break spaces between thousands (12 345) and a minus sign (−) before a
// negative number.
func FormatPoints(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}
