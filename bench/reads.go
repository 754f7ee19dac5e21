package bench

import (
	"context"
	"net/http"
	"time"
)

// measureReads measures balance reads at Options.ReadRate for Options.Duration and, when rates are searched, the
// highest read rate whose p99 stays under Options.ReadBound.
func (r *runner) measureReads(ctx context.Context) {
	opts, s, rep, progress, members := r.opts, r.s, r.rep, r.progress, r.members
	progress("reads: GET /v1/members/{id} at %.0f/s for %s", opts.ReadRate, opts.Duration)
	st := quiet(ctx, opts, progress, func() Step {
		stopProf := s.startProfiles(ctx, "reads", opts.Duration, progress)
		defer stopProf()
		return s.readStep(ctx, members, opts.ReadRate, opts.Duration)
	}, nil)
	progress("  %s", st)
	rep.Runs["reads"] = &st
	if r.search {
		progress("reads: searching the highest rate with p99 ≤ %s", ms(opts.ReadBound))
		sr := searchRate(ctx, "reads", 500, opts.MaxRate, opts.ReadBound, opts.Bisections, func(rate float64) Step {
			return quiet(ctx, opts, progress, func() Step { return s.readStep(ctx, members, rate, opts.Step) }, pass(opts.ReadBound))
		}, progress)
		rep.Searches["reads"] = &sr
	}
}

// readStep drives GET /v1/members/{id} (profile, balance and tier) at rate for dur.
func (s *stack) readStep(ctx context.Context, members []string, rate float64, dur time.Duration) Step {
	rec := newRecorder()
	hdr := s.header()
	hdr.Del("Content-Type")
	probe := s.cpuProbe()
	attackHTTP(ctx, rec, rate, dur, "reads", func(i uint64) httpTarget {
		return httpTarget{method: http.MethodGet, url: s.apiURL + "/v1/members/" + members[int(i%uint64(len(members)))], header: hdr}
	})
	st := rec.result("reads", rate, dur, false)
	st.CPU = probe.stop(st.Completed)
	st.noteShortfall()
	return st
}
