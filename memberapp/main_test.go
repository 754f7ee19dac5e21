package memberapp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/memberapp"
)

// temporal is the in-process Temporal server this package's tests share; each test has its own database.
var temporal *itest.Temporal

func TestMain(m *testing.M) { os.Exit(itest.RunWithTemporal(m, &temporal)) }

// mailbox is the email provider's fake: it keeps every message the app sends.
type mailbox struct {
	mu   sync.Mutex
	sent []activities.Message
}

func (mb *mailbox) Send(_ context.Context, m activities.Message) (string, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.sent = append(mb.sent, m)
	return "fake:" + m.Key, nil
}

func (mb *mailbox) count(to string) int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	n := 0
	for _, m := range mb.sent {
		if m.To == to {
			n++
		}
	}
	return n
}

var linkPattern = regexp.MustCompile(`https?://\S+/app/link\?token=\S+`)

// waitLink waits for the n-th (1-based) message sent to to and returns the sign-in link it carries.
func (mb *mailbox) waitLink(t *testing.T, to string, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mb.mu.Lock()
		seen := 0
		for _, m := range mb.sent {
			if m.To != to {
				continue
			}
			if seen++; seen == n {
				mb.mu.Unlock()
				link := linkPattern.FindString(m.Body)
				if link == "" {
					t.Fatalf("no sign-in link in %q", m.Body)
				}
				return link
			}
		}
		mb.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no message %d to %s", n, to)
	return ""
}

// clock is the app's clock: the real time moved by an offset.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// appStack is the real stack (Postgres, Temporal, worker, API) with the member app served beside the API.
type appStack struct {
	*itest.Stack
	URL   string
	Mail  *mailbox
	Clock *clock
	// Requests has the address (path and query) of every request the app's server received, one a line.
	Requests *testkit.SyncBuffer
}

func newAppStack(t *testing.T, tune func(*memberapp.Config)) *appStack {
	t.Helper()
	s := itest.NewStack(t, temporal, itest.Options{})
	return s2app(t, s, tune)
}

// s2app serves a member app (a fresh one, with its own fake mailbox and clock) over the stack s.
func s2app(t *testing.T, s *itest.Stack, tune func(*memberapp.Config)) *appStack {
	t.Helper()
	as := &appStack{Stack: s, Mail: &mailbox{}, Clock: &clock{}, Requests: &testkit.SyncBuffer{}}
	srv := httptest.NewUnstartedServer(nil)
	cfg := memberapp.Config{API: s.Server, Store: s.Store, JWT: s.JWT, Notifier: as.Mail, Now: as.Clock.now,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicURL: "http://" + srv.Listener.Addr().String()}
	if tune != nil {
		tune(&cfg)
	}
	app, err := memberapp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := app.Beside(s.Server.Handler())
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = as.Requests.Write([]byte(r.Method + " " + r.RequestURI + "\n"))
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	as.URL = srv.URL
	return as
}

func (as *appStack) register(t *testing.T, email, name string) string {
	t.Helper()
	res := as.Do("POST", "/v1/members/register", as.Keys["pos"], map[string]any{
		"email": email, "name": name, "consent": map[string]bool{"email": true}}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	var m struct {
		MemberID string `json:"member_id"`
	}
	res.Decode(t, &m)
	return m.MemberID
}

func (as *appStack) adjust(t *testing.T, member string, points int64, reason string) {
	t.Helper()
	res := as.Do("POST", "/v1/members/"+member+"/adjustments", as.Keys["support"], map[string]any{
		"adjustment_id": "SEED-" + member + "-" + strings.ReplaceAll(reason, " ", "_"), "points": points, "reason": reason}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("adjust: %d %s", res.Status, res.Body)
	}
}

// client is an HTTP client with cookies, as a member's browser.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (as *appStack) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: as.URL, hc: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (c *client) do(method, path string, form url.Values) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = c.base + path
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

func (c *client) get(path string) page { return c.do("GET", path, nil) }

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the forms of the page at path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	p := c.get(path)
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s (%d)", path, p.Status)
	}
	return m[1]
}

// askLink submits the sign-in form for email.
func (c *client) askLink(email string) page {
	c.t.Helper()
	return c.do("POST", "/app/sign-in", url.Values{"csrf": {c.csrf("/app/sign-in")}, "email": {email}})
}

// useLink opens a sign-in link and presses its button.
func (c *client) useLink(link string) page {
	c.t.Helper()
	p := c.get(link)
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		return p
	}
	u, err := url.Parse(link)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do("POST", "/app/link", url.Values{"csrf": {m[1]}, "token": {u.Query().Get("token")}})
}

// signIn signs the client in as the member of email, through the emailed link.
func (c *client) signIn(as *appStack, email string) {
	c.t.Helper()
	n := as.Mail.count(email)
	if p := c.askLink(email); p.Status != http.StatusOK {
		c.t.Fatalf("ask a link: %d %s", p.Status, p.Body)
	}
	if p := c.useLink(as.Mail.waitLink(c.t, email, n+1)); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/app/" {
		c.t.Fatalf("use the link: %d %s", p.Status, p.Body)
	}
}
