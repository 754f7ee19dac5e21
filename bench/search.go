package bench

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Search is the outcome of looking for the highest rate a scenario sustains.
type Search struct {
	Scenario string        `json:"scenario"`
	Bound    time.Duration `json:"p99_bound_ns"` // the p99 of Step.Done every passing step stays under
	// Max is the highest rate that passed (0 when none did); Best is that step.
	Max   float64 `json:"max_rate"`
	Best  *Step   `json:"best,omitempty"`
	Steps []Step  `json:"steps"`
}

// sustained judges a step: nearly every operation succeeded, every acknowledged effect was seen, the system kept
// pace with the arrivals, and the p99 of the effect's latency stayed under the bound.
func sustained(s Step, bound time.Duration) (bool, string) {
	switch {
	case s.Sent == 0:
		return false, "nothing sent"
	case float64(s.Errors) > 0.01*float64(s.Sent):
		return false, fmt.Sprintf("%d of %d failed", s.Errors, s.Sent)
	case s.Missing > 0:
		return false, fmt.Sprintf("%d effects not seen", s.Missing)
	case s.Done.P99 > bound:
		return false, fmt.Sprintf("p99 %s over %s", ms(s.Done.P99), ms(bound))
	case s.Throughput < 0.9*s.Rate:
		return false, fmt.Sprintf("throughput %.1f/s under 90%% of %.0f/s", s.Throughput, s.Rate)
	}
	return true, ""
}

// searchRate finds the highest rate whose step is sustained: it doubles the rate from start until a step fails (or
// halves it until one passes), then bisects between the last pass and the first failure, bisections times, down to
// a 5% gap. run measures one step at a rate.
func searchRate(ctx context.Context, scenario string, start, maxRate float64, bound time.Duration, bisections int, run func(rate float64) Step, progress func(string, ...any)) Search {
	out := Search{Scenario: scenario, Bound: bound}
	try := func(rate float64) bool {
		if ctx.Err() != nil {
			return false
		}
		rate = math.Round(rate)
		st := run(rate)
		st.Passed, st.Why = sustained(st, bound)
		if !st.Passed && st.Why == "" {
			st.Why = "not sustained"
		}
		out.Steps = append(out.Steps, st)
		verdict := "sustained"
		if !st.Passed {
			verdict = "NOT sustained: " + st.Why
		}
		progress("  %s → %s", st, verdict)
		if st.Passed && rate > out.Max {
			out.Max = rate
			best := st
			out.Best = &best
		}
		return st.Passed
	}
	start = max(1, math.Round(start))
	lo, hi := 0.0, 0.0
	if try(start) {
		lo = start
		for r := start * 2; r <= maxRate; r *= 2 {
			if !try(r) {
				hi = r
				break
			}
			lo = r
		}
		if hi == 0 {
			return out // passed up to maxRate
		}
	} else {
		hi = start
		for r := start; r > 1; {
			r = math.Max(1, math.Floor(r/2))
			if try(r) {
				lo = r
				break
			}
			hi = r
		}
		if lo == 0 {
			return out
		}
	}
	for range bisections {
		if hi-lo <= 0.05*lo || hi-lo < 2 || ctx.Err() != nil {
			break
		}
		mid := math.Round((lo + hi) / 2)
		if try(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return out
}

// pass judges a step of a search against bound, as the search does.
func pass(bound time.Duration) func(Step) bool {
	return func(s Step) bool { ok, _ := sustained(s, bound); return ok }
}
