package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// measureReads measures balance reads at Options.ReadRate for Options.Duration and, when rates are searched, the
// highest read rate whose p99 stays under Options.ReadBound.
func (r *runner) measureReads(ctx context.Context) {
	opts, s, rep, progress, members := r.opts, r.s, r.rep, r.progress, r.members
	r.vacuumBeforeReads(ctx)
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

// vacuumBeforeReads runs VACUUM (ANALYZE) over the bench's own database before the reads, unless told not to, and
// notes in the report what state the reads found the tables in. The write runs have just filled a database minutes
// old: no table has statistics yet and no page is marked all-visible, so every balance read would visit the heap
// pages of every lot and entry it sums. A live database is not like that: autovacuum analyzes and vacuums a table
// within a minute or so of that many writes. Reading before then measures the planner without statistics, not
// perkflow's read; --no-vacuum measures it anyway.
func (r *runner) vacuumBeforeReads(ctx context.Context) {
	s := r.s
	autovacuum := "unknown"
	_ = s.pool.QueryRow(ctx, `SELECT current_setting('autovacuum')`).Scan(&autovacuum)
	var note string
	switch {
	case s.dbName == "":
		note = fmt.Sprintf("balance reads ran in the given database as it was (autovacuum is %s on its server)", autovacuum)
	case r.opts.NoVacuumBeforeReads:
		note = fmt.Sprintf("balance reads ran in the bench's database as the write runs left it, never vacuumed or analyzed "+
			"(--no-vacuum; autovacuum is %s on this server)", autovacuum)
	default:
		t0 := time.Now()
		if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
			note = "balance reads ran without the VACUUM (ANALYZE) before them, which failed: " + err.Error()
			break
		}
		r.rep.Settings.VacuumedBeforeReads = true
		note = fmt.Sprintf("balance reads ran after a VACUUM (ANALYZE) of the bench's database (%s), as autovacuum leaves a live "+
			"database's tables within minutes of such writes (autovacuum is %s on this server; --no-vacuum reads without it)",
			time.Since(t0).Round(time.Millisecond), autovacuum)
	}
	r.progress("reads: %s", note)
	r.rep.Notes = append(r.rep.Notes, note)
}
