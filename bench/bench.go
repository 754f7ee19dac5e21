// Package bench measures how fast perkflow earns, answers and redeems, against the floors beneath it: the same
// Temporal server doing the least a workflow can do with a purchase, and the same Postgres doing the least the
// ledger needs. Everything runs in one go on one machine so that the ratios mean something: `perkflow bench`
// starts its own stack (an embedded Temporal server, a fresh Postgres database, perkflow api and perkflow worker as
// child processes of the same binary) unless pointed at one.
//
// Load is an open model at a constant rate (github.com/tsenart/vegeta/v12/lib for HTTP, vegeta's pacer for the
// floors): arrivals do not wait for earlier answers, and latencies are measured from when an operation was due, so
// a saturated system shows its queueing instead of hiding it (no coordinated omission).
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Scenarios, in the order they run.
var Scenarios = []string{"accrual", "temporal-floor", "pg-floor", "reads", "redemption", "registration", "history", "expiry"}

// Options configure a run.
type Options struct {
	// Duration of each measurement at a fixed rate.
	Duration time.Duration
	// Rate, when > 0, is the accrual rate every write scenario runs at, with no search. When 0, the bench searches
	// each write pipeline's highest sustained rate and measures latencies at half of perkflow's.
	Rate float64
	// Members registered through the API and purchases spread across them.
	Members int
	// Scenarios to run (see Scenarios); empty means all.
	Scenarios []string
	// Step is the length of one step of a rate search.
	Step time.Duration
	// Bound is the p99 latency of the effect (points visible, floor processed, commit) a sustained rate keeps.
	Bound time.Duration
	// ReadBound is the p99 of balance reads a sustained read rate keeps; ReadRate the fixed read rate measured.
	ReadBound time.Duration
	ReadRate  float64
	// NoVacuumBeforeReads leaves the bench's database as the write runs left it for the reads. By default the reads
	// run after a VACUUM (ANALYZE) of it: what autovacuum does to a live database's tables within minutes of such
	// writes, and the bench's database is minutes old (and autovacuum may be off on the server it is given).
	NoVacuumBeforeReads bool
	// SearchStart is the first rate tried; MaxRate caps the search; Bisections refine it.
	SearchStart float64
	MaxRate     float64
	Bisections  int
	// RedeemRate is the rate of offer claims (points-only, then with cash) measured for Duration each.
	RedeemRate float64
	// RegisterRate is the rate of new members registered through the API (the registration scenario), for Duration.
	RegisterRate float64
	// StripeMock is the stripe-mock binary for cash claims (default: bin/stripe-mock, else PATH).
	StripeMock string
	// HistoryPurchases sent to one member for the history bound.
	HistoryPurchases int
	// ExpiryLots are seeded past their date and expired by the expiry workflow (the expiry scenario).
	ExpiryLots int
	// MaxOtherLoad is how many cores of CPU others (not perkflow, the bench or Postgres) may use during a
	// measurement before it is repeated, up to Retries times, keeping the least disturbed attempt.
	MaxOtherLoad float64
	Retries      int

	// APIURL points at a running API instead of starting one (with DatabaseURL, its database).
	APIURL      string
	DatabaseURL string
	// TemporalAddr points at a running Temporal frontend instead of starting an embedded one.
	TemporalAddr string
	// Workers is how many perkflow worker processes the bench starts on the task queue (1 when unset): with
	// TemporalAddr, the topology of a deployment whose Temporal server and workers run on their own.
	Workers   int
	Namespace string
	// PGAdminURL is the server (and a user allowed to CREATE DATABASE) on which the fresh database is made.
	PGAdminURL string

	// PprofDir, when set, receives CPU profiles of the API, the worker and the bench process (with the embedded
	// Temporal server) during the accrual and read measurements, and heap profiles after the accrual.
	PprofDir string

	// Exe and ChildArgs run a child: Exe with ChildArgs(role, pprofAddr) runs perkflow api or perkflow worker
	// (role "api" or "worker"), serving profiles on pprofAddr when it is not "".
	Exe       string
	ChildArgs func(role, pprofAddr string) []string
	// ChildLogLevel is PERKFLOW_LOG_LEVEL for the children.
	ChildLogLevel string
	// Tracing has the children trace everything and export it over OTLP to a sink in the bench (traceSink), to
	// measure what tracing costs.
	Tracing bool
	// KeepTemp keeps the temporary directory (Temporal's database, child logs).
	KeepTemp bool
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
	// Command is the command line, for the report.
	Command string
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Duration, 15*time.Second)
	def(&o.Step, 4*time.Second)
	def(&o.Bound, time.Second)
	def(&o.ReadBound, 20*time.Millisecond)
	if o.Members <= 0 {
		o.Members = 200
	}
	if o.RedeemRate <= 0 {
		o.RedeemRate = 5
	}
	if o.RegisterRate <= 0 {
		o.RegisterRate = 220
	}
	if o.ReadRate <= 0 {
		o.ReadRate = 3000
	}
	if o.SearchStart <= 0 {
		o.SearchStart = 50
	}
	if o.MaxRate <= 0 {
		o.MaxRate = 20000
	}
	if o.Bisections < 0 {
		o.Bisections = 0
	}
	if o.MaxOtherLoad <= 0 {
		o.MaxOtherLoad = 0.5
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.HistoryPurchases < 0 {
		o.HistoryPurchases = 0
	}
	if o.ExpiryLots < 0 {
		o.ExpiryLots = 0
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.ChildLogLevel == "" {
		o.ChildLogLevel = "info"
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = Scenarios
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Validate checks the scenario names, and that workers are asked for only where the bench starts them.
func (o Options) Validate() error {
	if o.APIURL != "" && o.Workers > 1 {
		return errors.New("--workers starts perkflow worker processes for the bench's own API; with --api the deployment's workers serve")
	}
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("unknown scenario %q (want some of %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	return nil
}

// runner is one run of the bench: its options, its stack, the members it registered and the report it fills.
type runner struct {
	opts     Options
	s        *stack
	rep      *Report
	members  []string
	progress func(format string, args ...any)
	// search is true when rates are searched (no Options.Rate); grace is how long after the last send a step waits
	// for the effects still due.
	search bool
	grace  time.Duration
}

// has says whether scenario is among those asked for.
func (r *runner) has(scenario string) bool { return slices.Contains(r.opts.Scenarios, scenario) }

// Run runs the scenarios and returns what they measured.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.APIURL == "" && (opts.Exe == "" || opts.ChildArgs == nil) {
		return nil, errors.New("bench: Options.Exe and ChildArgs are needed to start perkflow api and worker")
	}
	r := &runner{opts: opts, search: opts.Rate <= 0, grace: max(2*opts.Bound, 10*time.Second)}
	r.progress = func(format string, args ...any) {
		fmt.Fprintf(opts.Progress, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	r.rep = &Report{
		Command: opts.Command, Started: time.Now(), Machine: machineInfo(),
		Settings: Settings{Duration: opts.Duration, Step: opts.Step, Bound: opts.Bound, ReadBound: opts.ReadBound,
			Members: opts.Members, Rate: opts.Rate, ReadRate: opts.ReadRate, Scenarios: opts.Scenarios, ExternalAPI: opts.APIURL != "",
			ExternalTemporal: opts.TemporalAddr != "", Workers: opts.Workers},
		Searches: map[string]*Search{}, Runs: map[string]*Step{}, EventsPerPurchase: map[string]float64{},
	}
	r.rep.Machine.LoadBefore = loadAvg()
	if opts.PprofDir != "" {
		if err := os.MkdirAll(opts.PprofDir, 0o755); err != nil {
			return nil, err
		}
	}

	s, err := startStack(ctx, opts, r.progress)
	if err != nil {
		return nil, err
	}
	defer s.close()
	r.s = s
	describeServers(ctx, s, &r.rep.Machine)
	if err := r.registerMembers(ctx); err != nil {
		return nil, err
	}

	w, err := r.startPipelines(ctx)
	defer w.close()
	if err != nil {
		return nil, err
	}
	same := opts.Rate
	if r.search && len(w.pipes) > 0 {
		same = r.searchPipelines(ctx, w.pipes)
	}
	r.measurePipelines(ctx, w, same)
	w.stopFloors()
	if same > 0 && r.rep.SameRate == 0 {
		r.rep.SameRate = same
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.has("reads") {
		r.measureReads(ctx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.has("redemption") {
		if err := runRedemptions(ctx, s, opts, r.rep, r.progress); err != nil {
			r.progress("  redemption failed: %v", err)
			r.rep.Notes = append(r.rep.Notes, "redemption not measured: "+err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.has("registration") {
		r.measureRegistration(ctx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.has("history") && opts.HistoryPurchases > 0 {
		r.measureHistory(ctx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.has("expiry") && opts.ExpiryLots > 0 {
		if err := r.measureExpiry(ctx); err != nil {
			r.progress("  expiry failed: %v", err)
			r.rep.Notes = append(r.rep.Notes, "expiry not measured: "+err.Error())
		}
	}
	r.finish()
	return r.rep, nil
}

// registerMembers registers the members the scenarios send purchases for, through the API, waits for their
// workflows' first tasks, then measures the CPU each process uses idle.
func (r *runner) registerMembers(ctx context.Context) error {
	r.progress("registering %d members through the API", r.opts.Members)
	t0 := time.Now()
	members, err := r.s.registerMembers(ctx, r.opts.Members, "m")
	if err != nil {
		return err
	}
	took := time.Since(t0)
	r.members = members
	r.rep.Registration = &Registration{Members: len(members), Took: took, Rate: float64(len(members)) / took.Seconds()}
	r.progress("  %d members in %s (%.0f/s)", len(members), took.Round(time.Millisecond), r.rep.Registration.Rate)
	pending, absent := welcomed(ctx, r.s.tc, members, time.Minute)
	if pending > 0 {
		r.progress("  %d of the members' workflows had not run their first task after a minute", pending)
	}
	if absent > 0 {
		r.progress("  %d of the members have no workflow: Temporal did not take its start in time (it starts on their first purchase)", absent)
	}
	r.progress("measuring the idle CPU of each process for 3 s")
	idle := r.s.cpuProbe()
	time.Sleep(3 * time.Second)
	r.s.baseline = idle.baseline()
	r.rep.Baseline = r.s.baseline
	return nil
}

// finish records what is read at the end of a run: the processes' peak memory, whether a child died, the load.
func (r *runner) finish() {
	rep, s := r.rep, r.s
	if rep.Memory != nil {
		// The peak (VmHWM) over the whole run, reading again at the end.
		rep.Memory.APIEnd, rep.Memory.WorkerEnd = s.memory()
	}
	if err := s.childrenAlive(); err != nil {
		rep.Notes = append(rep.Notes, "a child process died during the run, so figures after that are not perkflow's: "+err.Error())
	}
	if s.traces != nil {
		rep.Notes = append(rep.Notes, s.traces.note())
	}
	rep.Machine.LoadAfter = loadAvg()
	rep.Took = time.Since(rep.Started)
	rep.Targets = targets(rep)
}
