package console_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/console"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// temporal is the in-process Temporal server this package's tests share; each test has its own database.
var temporal *itest.Temporal

func TestMain(m *testing.M) { os.Exit(itest.RunWithTemporal(m, &temporal)) }

// consoleStack is the real stack (Postgres, Temporal, worker, API) with the console served beside the API.
type consoleStack struct {
	*itest.Stack
	URL     string
	Console *console.Console
}

func newConsoleStack(t *testing.T, opts itest.Options) *consoleStack {
	t.Helper()
	s := itest.NewStack(t, temporal, opts)
	c, err := console.New(console.Config{API: s.Server, Store: s.Store, TemporalUIURL: "http://temporal-ui.test", TemporalNamespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Beside(s.Server.Handler()))
	t.Cleanup(srv.Close)
	return &consoleStack{Stack: s, URL: srv.URL, Console: c}
}

// browser is an HTTP client with cookies, as a browser signed in to the console.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (cs *consoleStack) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: cs.URL, client: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequest(method, b.base+path, nil)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return page{Status: res.StatusCode, Header: res.Header, Body: sb.String()}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token a page's forms carry.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s (%d)", path, p.Status)
	}
	return m[1]
}

// post submits a form of the page at from with its CSRF token.
func (b *browser) post(from, path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(from))
	return b.do("POST", path, form)
}

// signIn signs in with key and returns the browser.
func (b *browser) signIn(key string) *browser {
	b.t.Helper()
	token := b.csrf("/console/sign-in")
	p := b.do("POST", "/console/sign-in", url.Values{"csrf": {token}, "api_key": {key}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/" {
		b.t.Fatalf("sign in: %d %s", p.Status, p.Body)
	}
	return b
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
