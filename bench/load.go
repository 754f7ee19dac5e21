package bench

import (
	"context"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// pacerFor is vegeta's constant pacer for a rate that may have a fraction (37.5/s is 375 per 10 s).
func pacerFor(rate float64) vegeta.ConstantPacer {
	if rate == math.Trunc(rate) {
		return vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
	}
	return vegeta.ConstantPacer{Freq: int(math.Round(rate * 10)), Per: 10 * time.Second}
}

// openLoop calls fire at a constant rate for dur, each call in its own goroutine, whatever the earlier calls are
// doing: an open model, so a slow system faces the same arrivals as a fast one and no latency is hidden by
// coordinated omission. due is when the call was scheduled; latencies are measured from it, so a late dispatch
// counts against the system, not for it. It returns once every call has returned.
func openLoop(ctx context.Context, rate float64, dur time.Duration, fire func(i uint64, due time.Time)) {
	p := pacerFor(rate)
	interval := p.Per / time.Duration(p.Freq)
	began := time.Now()
	var wg sync.WaitGroup
	var hits uint64
	for ctx.Err() == nil {
		elapsed := time.Since(began)
		if elapsed >= dur {
			break
		}
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			break
		}
		if wait > 0 {
			time.Sleep(wait)
			continue // ask again: the sleep may have been short
		}
		// The pacer sends hit i at (i+1) intervals; when it runs behind it sends at once, and the hit is late.
		due := began.Add(time.Duration(hits+1) * interval)
		wg.Add(1)
		go func(i uint64) {
			defer wg.Done()
			fire(i, due)
		}(hits)
		hits++
	}
	wg.Wait()
}

// maxInFlight caps the requests an attack has in flight. An open model has no cap, but a system that has fallen
// seconds behind would otherwise have tens of thousands of requests open and exhaust the bench's file descriptors.
// Past the cap arrivals wait: the step sends fewer than it scheduled (Step.Why says so), and it has failed anyway.
const maxInFlight = 4096

// loadTransport carries every attack's requests: keep-alive connections, as many as the open model needs at once,
// a few hundred kept idle between requests and all closed after each attack.
var (
	loadTransport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
	}
	loadClient = &http.Client{Transport: loadTransport}
)

// httpTarget is one request for vegeta: an id to track its effect (or ""), the method, path, body and headers.
type httpTarget struct {
	id     string
	method string
	url    string
	body   []byte
	header http.Header
}

// attackHTTP sends the targets produced by next at a constant rate for dur with vegeta's attacker (open model: it
// adds workers when all are busy rather than delaying arrivals) and records each answer in rec. The target's id
// rides in the URL's fragment, which is never sent, so that each result can be matched to its operation. A target
// with an id is tracked in rec from the moment it is sent.
//
// check, when given, judges a 2xx answer by its body: a non-empty message makes it an error.
func attackHTTP(ctx context.Context, rec *recorder, rate float64, dur time.Duration, name string, next func(i uint64) httpTarget, check ...func(code int, body []byte) string) {
	var mu sync.Mutex
	var i uint64
	targeter := func(tgt *vegeta.Target) error {
		mu.Lock()
		n := i
		i++
		mu.Unlock()
		t := next(n)
		tgt.Method, tgt.Body, tgt.Header = t.method, t.body, t.header
		tgt.URL = t.url
		if t.id != "" {
			tgt.URL += "#" + t.id
			rec.track(t.id, time.Now())
		} else {
			rec.sentUntracked(time.Now())
		}
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Client(loadClient), vegeta.Timeout(60*time.Second), vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxBody(4096), vegeta.MaxWorkers(maxInFlight))
	// Connections an attack opened do not outlive it: a long run makes dozens of attacks.
	defer loadTransport.CloseIdleConnections()
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for res := range atk.Attack(targeter, pacerFor(rate), dur, name) {
		id := ""
		if _, frag, ok := strings.Cut(res.URL, "#"); ok {
			id = frag
		}
		code := int(res.Code)
		errMsg := res.Error
		if errMsg == "" && (code < 200 || code >= 300) {
			errMsg = http.StatusText(code)
		}
		if errMsg != "" && code >= 300 {
			errMsg = res.Error + " " + firstLine(res.Body)
		}
		if errMsg == "" && len(check) > 0 {
			errMsg = check[0](code, res.Body)
		}
		rec.acknowledged(id, res.Latency, code, strings.TrimSpace(errMsg))
		if id == "" && errMsg == "" {
			rec.completeUntracked(res.End())
		}
	}
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}
