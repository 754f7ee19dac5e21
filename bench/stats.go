package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Dist summarises a latency distribution with exact (nearest-rank) percentiles: a bench step records thousands of
// samples, few enough to keep and sort.
type Dist struct {
	N    int           `json:"n"`
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P95  time.Duration `json:"p95_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
}

// distOf computes the summary of samples (which it sorts in place).
func distOf(samples []time.Duration) Dist {
	if len(samples) == 0 {
		return Dist{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Dist{
		N:    len(samples),
		Mean: sum / time.Duration(len(samples)),
		P50:  percentile(samples, 50),
		P95:  percentile(samples, 95),
		P99:  percentile(samples, 99),
		Max:  samples[len(samples)-1],
	}
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// Step is the outcome of one fixed-rate, open-model run of a scenario.
type Step struct {
	Scenario string        `json:"scenario"`
	Rate     float64       `json:"offered_rate"` // operations scheduled per second
	Duration time.Duration `json:"duration_ns"`  // how long operations were scheduled for
	Sent     int           `json:"sent"`
	Errors   int           `json:"errors"`
	// ErrorSamples are a few distinct error messages, with their counts.
	ErrorSamples map[string]int `json:"error_samples,omitempty"`
	// Codes counts HTTP status codes (HTTP scenarios only).
	Codes map[int]int `json:"status_codes,omitempty"`
	// Ack is the latency of the call that accepts the operation: the HTTP answer, the SignalWithStart, the commit.
	Ack Dist `json:"ack"`
	// Done is the latency until the operation's effect is visible (points committed in Postgres, the floor's local
	// activity run), measured from the moment the operation was due to be sent. Equal to Ack where the ack is the
	// effect.
	Done Dist `json:"done"`
	// Completed operations (effect seen) and Missing ones (acknowledged, effect never seen within the grace period).
	Completed int `json:"completed"`
	Missing   int `json:"missing"`
	// Throughput is completed operations per second while operations were arriving (see recorder.throughput).
	Throughput float64 `json:"throughput"`
	// CPU is the CPU time each process spent during the step, per completed operation.
	CPU *CPUUse `json:"cpu,omitempty"`
	// Retried counts the times this measurement was repeated because others loaded the machine during it.
	Retried int `json:"retried,omitempty"`
	// Passed says whether the step met the search criteria (set by the search).
	Passed bool   `json:"passed"`
	Why    string `json:"why,omitempty"`
}

// noteShortfall says when the load generator sent clearly fewer operations than it scheduled: it had maxInFlight
// requests waiting for answers.
func (s *Step) noteShortfall() {
	want := s.Rate * s.Duration.Seconds()
	if want >= 20 && float64(s.Sent) < 0.95*want {
		why := fmt.Sprintf("sent %d of %.0f scheduled: %d requests were in flight", s.Sent, want, maxInFlight)
		if s.Why != "" {
			why = s.Why + "; " + why
		}
		s.Why = why
	}
}

// String is a one-line progress report.
func (s Step) String() string {
	done := ""
	if s.Done.N > 0 {
		done = fmt.Sprintf(" done p50=%s p99=%s", ms(s.Done.P50), ms(s.Done.P99))
	}
	return fmt.Sprintf("%s @ %.0f/s: sent %d, errors %d, missing %d, throughput %.1f/s, ack p50=%s p99=%s%s",
		s.Scenario, s.Rate, s.Sent, s.Errors, s.Missing, s.Throughput, ms(s.Ack.P50), ms(s.Ack.P99), done)
}

// recorder collects one step's samples. Operations with an effect to wait for are tracked by id from the moment
// they are due until the effect is seen (complete) or the operation failed (fail).
type recorder struct {
	mu         sync.Mutex
	sent       int
	errs       int
	errSamples map[string]int
	codes      map[int]int
	ack, done  []time.Duration
	due        map[string]time.Time // tracked, effect not seen yet
	acked      map[string]bool      // tracked ids whose ack succeeded
	firstDue   time.Time            // first operation due
	lastDue    time.Time            // last operation due
	firstDone  time.Time            // first effect seen
	last       time.Time            // last effect seen
	doneAt     []time.Time          // when each effect was seen
	idle       chan struct{}        // closed when nothing is tracked any more (after close)
	closed     bool
}

func newRecorder() *recorder {
	return &recorder{errSamples: map[string]int{}, codes: map[int]int{}, due: map[string]time.Time{}, acked: map[string]bool{}}
}

// track starts waiting for the effect of operation id, due at t.
func (r *recorder) track(id string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	r.due[id] = t
	r.dueAt(t)
}

func (r *recorder) dueAt(t time.Time) {
	if r.firstDue.IsZero() || t.Before(r.firstDue) {
		r.firstDue = t
	}
	if t.After(r.lastDue) {
		r.lastDue = t
	}
}

// sentUntracked counts an operation whose ack is its effect.
func (r *recorder) sentUntracked(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	r.dueAt(t)
}

// acknowledged records the ack of an operation: its latency, or its failure. A failed tracked operation is no longer
// waited for.
func (r *recorder) acknowledged(id string, latency time.Duration, code int, err string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if code != 0 {
		r.codes[code]++
	}
	if err != "" {
		r.errs++
		if len(r.errSamples) < 8 || r.errSamples[err] > 0 {
			r.errSamples[err]++
		}
		if id != "" {
			delete(r.due, id)
			r.checkIdle()
		}
		return
	}
	r.ack = append(r.ack, latency)
	if id != "" {
		r.acked[id] = true
	}
}

// complete records that the effect of id was seen at t. Unknown ids (another step's, or none of ours) are ignored.
func (r *recorder) complete(id string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	due, ok := r.due[id]
	if !ok {
		return
	}
	delete(r.due, id)
	r.done = append(r.done, t.Sub(due))
	r.seen(t)
	r.checkIdle()
}

// completeUntracked records an operation whose ack is its effect, completed at t.
func (r *recorder) completeUntracked(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen(t)
}

func (r *recorder) seen(t time.Time) {
	r.doneAt = append(r.doneAt, t)
	if r.firstDone.IsZero() || t.Before(r.firstDone) {
		r.firstDone = t
	}
	if t.After(r.last) {
		r.last = t
	}
}

func (r *recorder) checkIdle() {
	if r.closed && len(r.due) == 0 && r.idle != nil {
		close(r.idle)
		r.idle = nil
	}
}

// waitIdle waits, after every operation was sent, until every tracked effect is seen or the timeout passes, and
// returns the ids still outstanding.
func (r *recorder) waitIdle(ctx context.Context, timeout time.Duration) []string {
	r.mu.Lock()
	r.closed = true
	var idle chan struct{}
	if len(r.due) > 0 {
		idle = make(chan struct{})
		r.idle = idle
	}
	r.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(timeout):
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idle = nil
	out := make([]string, 0, len(r.due))
	for id := range r.due {
		out = append(out, id)
	}
	return out
}

// result summarises the step. tracked says whether Done comes from tracked effects or equals Ack.
func (r *recorder) result(scenario string, rate float64, dur time.Duration, tracked bool) Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Step{Scenario: scenario, Rate: rate, Duration: dur, Sent: r.sent, Errors: r.errs}
	if len(r.errSamples) > 0 {
		s.ErrorSamples = r.errSamples
	}
	if len(r.codes) > 0 {
		s.Codes = r.codes
	}
	s.Ack = distOf(r.ack)
	if tracked {
		s.Done = distOf(r.done)
		s.Completed = len(r.done)
		for id := range r.due {
			if r.acked[id] {
				s.Missing++
			}
		}
	} else {
		s.Done = s.Ack
		s.Completed = len(r.ack)
	}
	s.Throughput = r.throughput()
	return s
}

// throughput is the rate of completions in the second half of the sending window: by then a system that keeps
// pace completes as fast as operations arrive, whatever its latency, and one that does not completes only as fast
// as it can, while the effects of a slow tail after the last send do not dilute the figure. Short or sparse steps
// fall back to completions per second between the first and the last.
func (r *recorder) throughput() float64 {
	window := r.lastDue.Sub(r.firstDue)
	if window >= time.Second {
		mid := r.firstDue.Add(window / 2)
		n := 0
		for _, t := range r.doneAt {
			if !t.Before(mid) && !t.After(r.lastDue) {
				n++
			}
		}
		if n >= 10 {
			return float64(n) / r.lastDue.Sub(mid).Seconds()
		}
	}
	if len(r.doneAt) > 1 && r.last.After(r.firstDone) {
		return float64(len(r.doneAt)-1) / r.last.Sub(r.firstDone).Seconds()
	}
	return 0
}

// ms formats a duration in milliseconds for tables.
func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
