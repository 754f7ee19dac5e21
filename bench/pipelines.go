package bench

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"
)

// pipeline is one of the write pipelines: perkflow's accrual through the API, the Temporal floor, perkflow's store
// path and the Postgres floor. Each has its highest sustained rate searched and its latency measured at a fixed rate.
type pipeline struct {
	name  string
	start float64
	step  func(rate float64, dur time.Duration) Step
	// profile names the CPU profiles of its fixed-rate run ("" = none).
	profile string
	// events, when set, measures the history events per purchase of a fixed-rate run: call it before, and the
	// function it returns after.
	events func() func() float64
}

// writes are the write pipelines of a run and what they hold open.
type writes struct {
	pipes []pipeline
	// accrualSync runs the accrual's purchases answered as a POS waits by default (201 once committed).
	accrualSync func(rate float64) Step
	// floors stop the floors' workers and pools once their runs are done.
	floors []func()
	// watcher sees accruals commit; it stays open until the end of the run.
	watcher *commitWatcher
}

// stopFloors stops the floors once the write pipelines are measured.
func (w *writes) stopFloors() {
	for _, c := range w.floors {
		c()
	}
	w.floors = nil
}

// close releases the commit watcher at the end of the run (and the floors, when the run ended before their
// measurement).
func (w *writes) close() {
	w.stopFloors()
	if w.watcher != nil {
		w.watcher.close()
	}
}

// startPipelines prepares the write pipelines asked for, warming each up (not recorded).
func (r *runner) startPipelines(ctx context.Context) (*writes, error) {
	opts, s, members, progress := r.opts, r.s, r.members, r.progress
	w := &writes{}
	if r.has("accrual") {
		cw, err := watchCommits(ctx, s.dbURL)
		if err != nil {
			return w, err
		}
		w.watcher = cw
		acc := &accrualRun{s: s, watcher: cw, members: members}
		warm := max(1, math.Round(opts.SearchStart/2))
		if !r.search {
			warm = opts.Rate
		}
		progress("accrual: warming up at %.0f/s for %s (not recorded)", warm, opts.Step)
		progress("  %s", acc.step(ctx, "accrual-warmup", warm, opts.Step, r.grace, true))
		sample := members[:min(eventSample, len(members))]
		w.pipes = append(w.pipes, pipeline{name: "accrual", start: opts.SearchStart, profile: "accrual", step: func(rate float64, d time.Duration) Step {
			return acc.step(ctx, "accrual", rate, d, r.grace, true)
		}, events: func() func() float64 {
			before := snapshotMembers(ctx, s.tc, sample)
			return func() float64 {
				time.Sleep(2 * time.Second) // the workflow tasks after the commits
				return eventsPerPurchase(before, snapshotMembers(ctx, s.tc, sample))
			}
		}})
		// The same purchases, answered as a POS waits by default: 201 once committed.
		w.accrualSync = func(rate float64) Step { return acc.step(ctx, "accrual-sync", rate, opts.Duration, r.grace, false) }
	}
	if r.has("temporal-floor") {
		f, err := startTemporalFloor(s, members)
		if err != nil {
			return w, err
		}
		w.floors = append(w.floors, f.stop)
		progress("temporal floor: starting %d floor workflows", len(members))
		if err := f.warm(ctx); err != nil {
			return w, err
		}
		w.pipes = append(w.pipes, pipeline{name: "temporal-floor", start: opts.SearchStart, profile: "temporal-floor", step: func(rate float64, d time.Duration) Step {
			return f.step(ctx, "temporal-floor", rate, d, r.grace)
		}, events: func() func() float64 {
			e0, s0 := f.snapshot(ctx)
			return func() float64 {
				time.Sleep(2 * time.Second)
				e1, s1 := f.snapshot(ctx)
				return floorEventsPerPurchase(e0, s0, e1, s1)
			}
		}})
	}
	if r.has("pg-floor") {
		f, err := startPGFloor(ctx, s, members)
		if err != nil {
			return w, err
		}
		w.floors = append(w.floors, f.close)
		for _, kind := range []string{"store", "pg-floor"} {
			progress("%s: warming up (not recorded)", kind)
			f.step(ctx, kind, 100, opts.Step)
			w.pipes = append(w.pipes, pipeline{name: kind, start: max(opts.SearchStart, 200), step: func(rate float64, d time.Duration) Step {
				return f.step(ctx, kind, rate, d)
			}})
		}
	}
	return w, nil
}

// searchPipelines searches the highest sustained rate of every write pipeline, their steps alternating so that the
// load others put on the machine weighs on all of them alike and their ratios hold. It returns the rate their
// latencies are then measured at: half of perkflow's accrual (or of the Temporal floor's), or 0.
func (r *runner) searchPipelines(ctx context.Context, pipes []pipeline) float64 {
	opts, rep, progress := r.opts, r.rep, r.progress
	var names []string
	for _, p := range pipes {
		names = append(names, p.name)
	}
	progress("searching the highest sustained rate of %s, their steps alternating; sustained = p99 of the effect ≤ %s",
		strings.Join(names, ", "), ms(opts.Bound))
	alt := newAlternator(names)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range pipes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer alt.done(p.name)
			sr := searchRate(ctx, p.name, p.start, opts.MaxRate, opts.Bound, opts.Bisections, func(rate float64) Step {
				var st Step
				alt.do(p.name, func() {
					st = quiet(ctx, opts, progress, func() Step { return p.step(rate, opts.Step) }, pass(opts.Bound))
				})
				return st
			}, progress)
			mu.Lock()
			rep.Searches[p.name] = &sr
			mu.Unlock()
		}()
	}
	wg.Wait()
	if a := rep.Searches["accrual"]; a != nil {
		return a.Max / 2
	} else if f := rep.Searches["temporal-floor"]; f != nil {
		return f.Max / 2
	}
	return opts.Rate
}

// measurePipelines runs each write pipeline at the same rate (or, without one, at half its own highest sustained
// rate) for Options.Duration, with the accrual's memory, heap profiles and its run answered as a POS waits.
func (r *runner) measurePipelines(ctx context.Context, w *writes, same float64) {
	opts, s, rep, progress := r.opts, r.s, r.rep, r.progress
	for _, p := range w.pipes {
		if ctx.Err() != nil {
			break
		}
		rate := same
		if rate <= 0 && rep.Searches[p.name] != nil {
			rate = rep.Searches[p.name].Max / 2
		}
		if rate <= 0 {
			continue
		}
		progress("%s: %.0f/s for %s", p.name, rate, opts.Duration)
		var perPurchase float64
		st := quiet(ctx, opts, progress, func() Step {
			if p.profile != "" {
				stopProf := s.startProfiles(ctx, p.profile, opts.Duration, progress)
				defer stopProf()
			}
			var after func() float64
			if p.events != nil {
				after = p.events()
			}
			st := p.step(rate, opts.Duration)
			if after != nil {
				perPurchase = after()
			}
			return st
		}, nil)
		progress("  %s", st)
		rep.Runs[p.name] = &st
		if perPurchase > 0 {
			rep.EventsPerPurchase[p.name] = perPurchase
			progress("  %.1f history events per purchase", perPurchase)
		}
		if p.name == "accrual" {
			mem := &Memories{}
			mem.API, mem.Worker = s.memory()
			rep.Memory = mem
			s.heapProfiles(ctx, "accrual", progress)
			progress("accrual: %.0f/s for %s, waiting for the 201 as a POS does by default", rate, opts.Duration)
			st := quiet(ctx, opts, progress, func() Step { return w.accrualSync(rate) }, nil)
			progress("  %s", st)
			rep.Runs["accrual-sync"] = &st
		}
	}
}
