package api

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"

	"github.com/go-chi/chi/v5"
)

// The API's documentation pages: GET /docs renders openapi.yaml with Redoc, GET /docs/problems describes every
// problem type the API answers with (the target of each problem's `type`).
//
// Redoc is not in the repository (no fetched third-party code is): `make docs-ui` takes its standalone bundle from
// the npm registry at the version pinned in the Makefile, checks the package's integrity, and puts it in
// api/docsui/, from where it is embedded. A build without it serves a page that says so and links the YAML.

//go:embed docsui
var docsUI embed.FS

// redocBundle is the renderer's file in docsui, present once `make docs-ui` has run.
const redocBundle = "redoc.standalone.js"

// docsAssets are the files of docsui served under /docs/assets/.
var docsAssets = map[string]string{
	"init.js":                    "text/javascript; charset=utf-8",
	redocBundle:                  "text/javascript; charset=utf-8",
	redocBundle + ".LICENSE.txt": "text/plain; charset=utf-8",
}

// docsCSP lets a documentation page load only what the API itself serves. Redoc's styles are injected at run
// time, so style-src adds the page's nonce (each answer draws its own), which Redoc puts on every <style> it makes.
func docsCSP(nonce string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-" + nonce + "'; img-src 'self' data:; " +
		"font-src 'self'; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; " +
		"frame-ancestors 'none'"
}

func newNonce() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func hasRedoc() bool {
	_, err := fs.Stat(docsUI, path.Join("docsui", redocBundle))
	return err == nil
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>perkflow API</title>
<style nonce="{{.Nonce}}">body { margin: 0; font-family: system-ui, sans-serif; } .missing { max-width: 40em; margin: 3em auto; line-height: 1.5; }</style>
</head>
<body>
{{if .Redoc}}<div id="redoc"></div>
<script src="/docs/assets/` + redocBundle + `"></script>
<script src="/docs/assets/init.js" nonce="{{.Nonce}}"></script>
{{else}}<div class="missing">
<h1>perkflow API</h1>
<p>The API reference renderer (Redoc) is not bundled in this build: run <code>make docs-ui</code> before building.
The contract itself is <a href="/openapi.yaml">/openapi.yaml</a>; problem types are described at
<a href="/docs/problems">/docs/problems</a>.</p>
</div>
{{end}}</body>
</html>
`))

// serveDocs serves the rendered OpenAPI document.
func serveDocs(w http.ResponseWriter, _ *http.Request) {
	nonce := newNonce()
	var buf bytes.Buffer
	_ = docsPage.Execute(&buf, struct {
		Nonce string
		Redoc bool
	}{nonce, hasRedoc()})
	writeDocsPage(w, nonce, buf.Bytes())
}

func writeDocsPage(w http.ResponseWriter, nonce string, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", docsCSP(nonce))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(page)
}

// serveDocsAsset serves a file of docsui; anything else is a 404 problem.
func serveDocsAsset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	ctype, ok := docsAssets[name]
	body, err := docsUI.ReadFile(path.Join("docsui", name))
	if !ok || err != nil {
		fail(w, r, problem(errNoRoute, "no such file"))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(body)
}

// problemDocs says, for each problem type, when the API answers it and what the client should do.
var problemDocs = map[string]string{
	"invalid-request": "The request is malformed or a field is invalid: unknown or missing fields, wrong types, values " +
		"out of range. `errors` lists each field with what is wrong. For an import file: a wrong header, a line that is not " +
		"UTF-8 or not well-formed CSV or JSON, and `detail` names the line. Nothing was written; fix the request before " +
		"sending it again.",
	"unauthorized": "No credentials, or credentials the API does not accept: a missing, revoked or unknown API key, a " +
		"member token that is expired, badly signed or for another issuer or audience. Nothing was done.",
	"forbidden": "The credentials are valid, but their role may not use this route, or a member token asks for " +
		"another member's data. Nothing was done.",
	"not-found": "No such member, transaction, offer, redemption, rule, campaign, challenge or import — or no such route. " +
		"Ids are case-sensitive.",
	"conflict": "The request contradicts what exists: an email or external id already taken, an idempotency key or " +
		"transaction id reused with a different body, a state change that is no longer possible. Nothing was written.",
	"unprocessable": "The request is well formed but the business rules refuse it: not enough available points, an " +
		"offer out of stock or not open, a cancel window that has passed. `detail` says which; nothing was spent.",
	"gone": "What the request names existed but can no longer be used: a coupon code whose redemption was cancelled, " +
		"or that is past its expiry. Nothing was done; the code will not become valid again.",
	"method-not-allowed": "The route exists, but not with this method.",
	"body-too-large": "The request body is larger than the API accepts: 1 MiB, or 2 GiB for the file of " +
		"`POST /v1/imports`. Nothing was written.",
	"unsupported-media-type": "Bodies must be `application/json` (an import file is CSV or NDJSON, by `format`).",
	"too-many-requests": "The caller's rate, the requests it may have in flight, or the writes concerning one member " +
		"at once are exceeded. Nothing was done; try again after `Retry-After` seconds.",
	"unavailable": "The operation could not be completed now (no worker applied it within the wait budget): it may or " +
		"may not be applied. Send the same request again (same id, same Idempotency-Key) after `Retry-After` " +
		"seconds; it applies at most once.",
	"postgres-unavailable": "The database could not be reached (a refused connection, the server starting or " +
		"stopping) or its connection broke during the request. `detail` says whether the request may have been " +
		"accepted: not when no connection could be made; maybe when it broke mid-request. Either way, sending the " +
		"same request again (same id, same Idempotency-Key) after `Retry-After` seconds is safe: it applies at most once.",
	"temporal-unavailable": "The workflow service (Temporal) could not be reached, did not answer within its short " +
		"deadline, is known to be down (the API's readiness probe sees it red and sends it nothing), or refused the " +
		"call for now (busy, or the member's workflow has taken in all the signals a run may). `detail` says " +
		"whether the request may have been accepted: not when refused or not sent; maybe when the deadline passed. " +
		"Either way, sending the same request again (same id, same Idempotency-Key) after `Retry-After` seconds is " +
		"safe: it applies at most once.",
	"payload-undecodable": "A payload sent to `/codec/decode` is encrypted under a key id this perkflow does not hold " +
		"(`detail` names it: add that key to PERKFLOW_PAYLOAD_KEYS), or its ciphertext does not open (tampered, or another " +
		"secret under the same key id). Nothing of any payload is answered.",
	"internal": "An error the API did not expect. It has been logged with the request id; nothing about it is " +
		"answered. A request with an Idempotency-Key may be sent again.",
}

// problemEntry is one problem type on the page.
type problemEntry struct {
	Slug, Title string
	Doc         template.HTML
	Status      int
}

// backquoted is `code` in a description, shown as code.
var backquoted = regexp.MustCompile("`([^`]+)`")

func docHTML(s string) template.HTML {
	return template.HTML(backquoted.ReplaceAllString(template.HTMLEscapeString(s), "<code>$1</code>")) // #nosec: escaped first
}

// problemEntries lists every problem type of problemTypes once, by status then slug.
func problemEntries() []problemEntry {
	var out []problemEntry
	for _, pt := range problemTypes {
		if slices.ContainsFunc(out, func(e problemEntry) bool { return e.Slug == pt.slug }) {
			continue
		}
		out = append(out, problemEntry{Slug: pt.slug, Title: pt.title, Status: pt.status, Doc: docHTML(problemDocs[pt.slug])})
	}
	slices.SortFunc(out, func(a, b problemEntry) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Slug, b.Slug))
	})
	return out
}

var problemsPage = template.Must(template.New("problems").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>perkflow API — problem types</title>
<style nonce="{{.Nonce}}">body { max-width: 48em; margin: 2em auto; padding: 0 1em; font-family: system-ui, sans-serif; line-height: 1.5; }
code { background: #f3f3f3; padding: 0 .2em; } h2 { margin-top: 2em; } .status { color: #666; font-weight: normal; }
:target { background: #fff7d6; }</style>
</head>
<body>
<h1>Problem types</h1>
<p>Every error of the perkflow API is an RFC 9457 problem document (<code>application/problem+json</code>) whose
<code>type</code> is <code>/docs/problems#&lt;slug&gt;</code>, an anchor on this page. Its <code>title</code> is the
type's, its <code>detail</code> says what went wrong with this request. The routes and their statuses are in the
<a href="/docs">API reference</a>.</p>
{{range .Problems}}<section id="{{.Slug}}">
<h2>{{.Title}} <span class="status">— {{.Status}}, <code>{{.Slug}}</code></span></h2>
<p>{{.Doc}}</p>
</section>
{{end}}</body>
</html>
`))

// serveProblems serves the description of every problem type.
func serveProblems(w http.ResponseWriter, _ *http.Request) {
	nonce := newNonce()
	var buf bytes.Buffer
	_ = problemsPage.Execute(&buf, struct {
		Nonce    string
		Problems []problemEntry
	}{nonce, problemEntries()})
	writeDocsPage(w, nonce, buf.Bytes())
}
