package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

var pipelineNames = map[string]string{
	"accrual":        "perkflow accrual: API → Temporal → worker → Postgres (points visible)",
	"temporal-floor": "Temporal floor: SignalWithStart + one no-op local activity",
	"store":          "perkflow's write path alone: store.AccruePurchase, no API, no Temporal",
	"pg-floor":       "Postgres floor: ledger insert + balance update with pgx",
	"reads":          "balance reads: GET /v1/members/{id}",
}

// latencyRows are the rows of the latency table, in order: a run's acknowledgement, or its effect ("#done").
var latencyRows = []struct{ key, what string }{
	{"accrual", "accrual acknowledged (202, `Prefer: wait=0`)"},
	{"accrual#done", "accrual points visible (commit seen)"},
	{"accrual-sync", "accrual answered as a POS waits by default (201)"},
	{"temporal-floor", "Temporal floor acknowledged (SignalWithStart)"},
	{"temporal-floor#done", "Temporal floor processed (local activity ran)"},
	{"store", "store.AccruePurchase committed"},
	{"pg-floor", "Postgres floor committed"},
	{"reads", "balance read answered"},
	{"redemption-points", "redemption claim-to-completed, points-only"},
	{"redemption-cash", "redemption claim-to-completed, with cash (stripe-mock)"},
	{"registration", "member registered through the API (201)"},
}

// printer writes formatted Markdown.
type printer func(format string, args ...any)

// WriteMarkdown renders the report as Markdown tables.
func (r *Report) WriteMarkdown(w io.Writer) {
	p := printer(func(format string, args ...any) { fmt.Fprintf(w, format, args...) })
	r.writeHeader(p)
	if len(r.Searches) > 0 {
		r.writeSearches(p)
	}
	if len(r.Runs) > 0 {
		r.writeLatency(p)
		r.writeCPU(p)
	}
	r.writeEventsPerPurchase(p)
	r.writeMemory(p)
	r.writeHistory(p)
	r.writeExpiry(p)
	r.writeTargets(p)
}

func (r *Report) writeHeader(p printer) {
	m := r.Machine
	p("### perkflow bench, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if r.Command != "" {
		p("`%s` — took %s.\n\n", r.Command, r.Took.Round(time.Second))
	}
	p("Machine: %s, %d cores, %d MB, Linux %s; %s; Postgres %s; Temporal %s. Load average (1, 5, 15 min) before %s, after %s.\n\n",
		m.CPU, m.Cores, m.MemoryMB, m.Kernel, m.Go, m.Postgres, m.Temporal, m.LoadBefore, m.LoadAfter)
	switch st := r.Settings; {
	case st.ExternalAPI:
		p("Against a running API and its Temporal server.\n\n")
	case st.ExternalTemporal:
		p("Temporal in a process of its own (--temporal, its CPU under others); perkflow api and %d perkflow worker process(es) started by the bench.\n\n", max(1, st.Workers))
	case st.Workers > 1:
		p("The embedded Temporal server in the bench's process; perkflow api and %d perkflow worker processes (their CPU summed as the worker's).\n\n", st.Workers)
	}
	if reg := r.Registration; reg != nil {
		p("%d members registered through the API in %s (%.0f/s, 16 at a time); purchases go round-robin across them.\n\n",
			reg.Members, reg.Took.Round(time.Millisecond), reg.Rate)
	}
}

func (r *Report) writeSearches(p printer) {
	p("#### Highest sustained rate\n\n")
	p("An open-model step of %s at each rate; sustained = ≤ 1%% errors, every effect seen, throughput ≥ 90%% of the offered rate "+
		"and p99 of the effect ≤ %s (reads: p99 of the answer ≤ %s).\n\n", r.Settings.Step, ms(r.Settings.Bound), ms(r.Settings.ReadBound))
	p("| pipeline | highest sustained rate | effect p50 there | effect p99 there | × Temporal floor | rates tried (✓ sustained) |\n|---|---:|---:|---:|---:|---|\n")
	floor := 0.0
	if f := r.Searches["temporal-floor"]; f != nil {
		floor = f.Max
	}
	for _, k := range []string{"accrual", "temporal-floor", "store", "pg-floor", "reads"} {
		s := r.Searches[k]
		if s == nil {
			continue
		}
		p50, p99, ratio := "-", "-", "-"
		if s.Best != nil {
			p50, p99 = ms(s.Best.Done.P50), ms(s.Best.Done.P99)
		}
		if floor > 0 && k != "reads" {
			ratio = fmt.Sprintf("%.2f", s.Max/floor)
		}
		var tried []string
		for _, st := range s.Steps {
			mark := "✓"
			if !st.Passed {
				mark = "✗"
			}
			tried = append(tried, fmt.Sprintf("%.0f%s", st.Rate, mark))
		}
		p("| %s | **%.0f/s** | %s | %s | %s | %s |\n", pipelineNames[k], s.Max, p50, p99, ratio, strings.Join(tried, " "))
	}
	p("\n")
}

func (r *Report) writeLatency(p printer) {
	if r.SameRate > 0 && r.Settings.Rate > 0 {
		p("#### Latency at %.0f/s (the rate given), %s each\n\n", r.SameRate, r.Settings.Duration)
	} else if r.SameRate > 0 {
		p("#### Latency at %.0f/s (half of perkflow's highest sustained accrual rate), %s each\n\n", r.SameRate, r.Settings.Duration)
	} else {
		p("#### Latency, %s each\n\n", r.Settings.Duration)
	}
	p("Latency is measured from when each operation was due (open model), so queueing in the load generator counts against the system.\n\n")
	p("| measurement | offered | achieved | errors | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range latencyRows {
		key, done := strings.CutSuffix(row.key, "#done")
		st := r.Runs[key]
		if st == nil {
			continue
		}
		d := st.Ack
		if done {
			d = st.Done
		}
		errs := fmt.Sprintf("%d", st.Errors)
		if done && st.Missing > 0 {
			errs = fmt.Sprintf("%d not seen", st.Missing)
		}
		if key == "accrual-sync" && st.Codes[202] > 0 {
			errs += fmt.Sprintf(" (%d × 202)", st.Codes[202])
		}
		p("| %s | %.0f/s | %.0f/s | %s | %s | %s | %s | %s |\n", row.what, st.Rate, st.Throughput, errs, ms(d.P50), ms(d.P95), ms(d.P99), ms(d.Max))
	}
	p("\n")
}

func (r *Report) writeCPU(p printer) {
	p("#### Where the CPU goes, per operation, at those rates\n\n")
	p("µs of CPU per completed operation in each process, net of what it uses idle. *bench* is the bench process: the embedded Temporal server " +
		"(all its services), the floor's worker and the load generator. *Postgres* counts the backends serving the bench's database. " +
		"*Others* is the rest of the machine's busy time (other users' work), in cores.")
	if b := r.Baseline; b != nil {
		p(" Idle, before any load: api %.3f, worker %.3f, bench %.3f, Postgres %.3f cores; the machine %.2f cores.", b.API, b.Worker, b.Bench, b.Postgres, b.Machine)
	}
	p("\n\n")
	p("| run | api | worker | bench (Temporal) | Postgres | machine busy | others |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range []string{"accrual", "accrual-sync", "temporal-floor", "store", "pg-floor", "reads", "redemption-points", "redemption-cash", "registration"} {
		st := r.Runs[k]
		if st == nil || st.CPU == nil {
			continue
		}
		c := st.CPU
		p("| %s @ %.0f/s | %.0f | %.0f | %.0f | %.0f | %.2f of %d cores | %.2f cores |\n", k, st.Rate,
			c.APIMicros, c.WorkerMicros, c.BenchMicros, c.PostgresMicros, c.MachineCores, c.Cores, c.OtherCores)
	}
	p("\n")
}

func (r *Report) writeEventsPerPurchase(p printer) {
	a, f := r.EventsPerPurchase["accrual"], r.EventsPerPurchase["temporal-floor"]
	if a <= 0 && f <= 0 {
		return
	}
	p("#### History events per purchase\n\nWhat each purchase adds to its workflow's history when purchases reach a member one at a time " +
		"(every event is a write to Temporal's persistence; measured on 10 workflows over the fixed-rate runs): ")
	var parts []string
	if a > 0 {
		parts = append(parts, fmt.Sprintf("perkflow's member workflow **%.1f**", a))
	}
	if f > 0 {
		parts = append(parts, fmt.Sprintf("the Temporal floor **%.1f**", f))
	}
	p("%s.\n\n", strings.Join(parts, ", "))
}

func (r *Report) writeMemory(p printer) {
	mem := r.Memory
	if mem == nil {
		return
	}
	p("#### Memory\n\n| process | resident at the end of the accrual run (VmRSS) | peak until then (VmHWM) | peak over the whole run |\n|---|---:|---:|---:|\n")
	for _, x := range []struct {
		name    string
		m, last *Memory
	}{{"perkflow api", mem.API, mem.APIEnd}, {"perkflow worker", mem.Worker, mem.WorkerEnd}} {
		if x.m == nil {
			continue
		}
		whole := "-"
		if x.last != nil {
			whole = fmt.Sprintf("%.1f MiB", mib(x.last.PeakBytes))
		}
		p("| %s | %.1f MiB | %.1f MiB | %s |\n", x.name, mib(x.m.RSSBytes), mib(x.m.PeakBytes), whole)
	}
	p("\n")
}

func (r *Report) writeHistory(p printer) {
	h := r.History
	switch {
	case h == nil:
		return
	case h.Stalled:
		p("#### History bound\n\n%d purchases for one member, sent through the API 32 at a time: **the member workflow stalled**. %s. "+
			"Its current run holds %d events.\n\n", h.Purchases, h.Why, h.CurrentRunEvents)
		return
	}
	p("#### History bound\n\n%d purchases for one member, sent through the API 32 at a time, committed in %s (%.0f/s for one member). "+
		"The member workflow's current run holds **%d events** (it continues as new at %d); %d runs so far, %d purchases processed.\n\n",
		h.Purchases, h.Took.Round(time.Millisecond), h.Rate, h.CurrentRunEvents, h.MaxHistoryEvents, h.Runs, h.Processed)
	if h.LongestRunEvents > int64(h.MaxHistoryEvents) {
		p("The longest run held %d events: a run with more queued than the next run's input may carry (2,000 purchases "+
			"or 1 MiB) parks the backlog in Postgres from three quarters of its bound on, and the signals that arrive "+
			"until it has continued as new are its too.\n\n", h.LongestRunEvents)
	}
	if rd := h.Reads; rd != nil && rd.Ack.N > 0 {
		p("Reading this member's balance (GET /v1/members/{id}, %.0f/s for %s): p50 %s, p99 %s, %d errors.\n\n",
			rd.Rate, rd.Duration, ms(rd.Ack.P50), ms(rd.Ack.P99), rd.Errors)
	}
}

func (r *Report) writeTargets(p printer) {
	p("#### Targets\n\n| target | want | this run | met |\n|---|---|---|:---:|\n")
	for _, t := range r.Targets {
		met := "n/a"
		if t.Met != nil {
			met = "no"
			if *t.Met {
				met = "yes"
			}
		}
		p("| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, met)
	}
	p("\n")
	for _, n := range r.Notes {
		p("- %s\n", n)
	}
}
