//go:build !nodev

package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchRunsEveryScenario runs `perkflow bench` for a few seconds at a low fixed rate on its own stack (the figures
// mean nothing here; `make bench` measures): every scenario must run without a failed request, every acknowledged
// purchase must be seen committed and the history bound must be measured, so that a broken bench shows in CI rather
// than as a table of its own errors.
func TestBenchRunsEveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole stack")
	}
	report := filepath.Join(t.TempDir(), "bench.json")
	args := []string{"bench", "--rate", "10", "--duration", "2s", "--step", "1s", "--retries", "0", "--members", "5",
		"--read-rate", "100", "--redeem-rate", "2", "--register-rate", "20", "--history-purchases", "60", "--expiry-lots", "20000", "--json", report}
	if mock, err := filepath.Abs("../../bin/stripe-mock"); err == nil {
		if _, err := os.Stat(mock); err == nil {
			args = append(args, "--stripe-mock", mock)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("perkflow bench: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, out)
	}
	var rep struct {
		Runs map[string]struct {
			Sent      int            `json:"sent"`
			Errors    int            `json:"errors"`
			Samples   map[string]int `json:"error_samples"`
			Completed int            `json:"completed"`
			Missing   int            `json:"missing"`
		} `json:"runs"`
		History *struct {
			Purchases        int   `json:"purchases"`
			Processed        int64 `json:"purchases_processed"`
			CurrentRunEvents int64 `json:"current_run_events"`
		} `json:"history"`
		Memory *struct {
			API    *struct{} `json:"api"`
			Worker *struct{} `json:"worker"`
		} `json:"memory"`
		Expiry *struct {
			Lots    int   `json:"lots"`
			Expired int64 `json:"lots_expired"`
			Left    int64 `json:"lots_left"`
		} `json:"expiry"`
		Targets []struct {
			Name string `json:"name"`
			Met  *bool  `json:"met"`
		} `json:"targets"`
		Notes    []string `json:"notes"`
		Settings struct {
			VacuumedBeforeReads bool `json:"vacuumed_before_reads"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// The reads find the tables as autovacuum would leave a live database's: analyzed, their pages all-visible.
	if !rep.Settings.VacuumedBeforeReads {
		t.Errorf("the reads ran without the VACUUM (ANALYZE) before them (notes: %v)", rep.Notes)
	}
	for _, name := range []string{"accrual", "accrual-sync", "temporal-floor", "store", "pg-floor", "reads", "redemption-points", "registration"} {
		r, ok := rep.Runs[name]
		if !ok {
			t.Errorf("no %s run in the report (notes: %v)", name, rep.Notes)
			continue
		}
		if r.Sent == 0 || r.Errors != 0 || r.Missing != 0 || r.Completed != r.Sent {
			t.Errorf("%s: sent %d, errors %d %v, completed %d, missing %d; want every operation to succeed", name, r.Sent, r.Errors, r.Samples, r.Completed, r.Missing)
		}
	}
	if h := rep.History; h == nil || h.Purchases != 60 || h.Processed < 60 || h.CurrentRunEvents <= 0 {
		t.Errorf("history bound = %+v (notes: %v); want 60 purchases processed and the current run's length", h, rep.Notes)
	}
	if rep.Memory == nil || rep.Memory.API == nil || rep.Memory.Worker == nil {
		t.Errorf("memory of the api and worker not reported")
	}
	if e := rep.Expiry; e == nil || e.Lots != 20000 || e.Expired != 20000 || e.Left != 0 {
		t.Errorf("expiry = %+v; want the 20,000 lots seeded expired, none left", e)
	}
	// Runs below the scale a target is stated at are reported, not judged.
	for _, tg := range rep.Targets {
		if (tg.Name == "expiry of 1,000,000 lots" || strings.HasPrefix(tg.Name, "longest member run")) && tg.Met != nil {
			t.Errorf("target %q judged on a run below its scale", tg.Name)
		}
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "died") || strings.Contains(n, "not measured: ") && !strings.Contains(n, "stripe-mock") {
			t.Errorf("note: %s", n)
		}
	}
}

// TestBenchWithTemporalAndWorkersOfTheirOwn runs the bench in a deployment's topology: Temporal in a process of its
// own (perkflow dev --temporal-only, as --temporal points at) and two perkflow worker processes on the task queue.
// Every purchase must be committed, and the report must say what ran where, with the workers' memory summed.
func TestBenchWithTemporalAndWorkersOfTheirOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole stack")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	temporal := exec.Command(binary, "dev", "--temporal-only")
	temporal.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+addr, "PERKFLOW_UI_ADDR=off", "PERKFLOW_METRICS_ADDR=off",
		"PERKFLOW_DATA_DIR="+filepath.Join(dir, "temporal"), "PERKFLOW_LOG_LEVEL=info") // it says "temporal ready"
	log, err := os.Create(filepath.Join(dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	temporal.Stdout, temporal.Stderr = log, log
	if err := temporal.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = temporal.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = temporal.Process.Signal(os.Interrupt)
		<-exited
		log.Close()
	})

	// The Temporal server is up once it says so; the bench then waits for both workers to poll.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if b, _ := os.ReadFile(log.Name()); strings.Contains(string(b), "temporal ready") {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("perkflow dev --temporal-only exited before it was ready:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("perkflow dev --temporal-only not ready after 2 minutes:\n%s", b)
		}
	}

	report := filepath.Join(dir, "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "--scenario", "accrual", "--rate", "10", "--duration", "2s", "--step", "1s",
		"--retries", "0", "--members", "5", "--temporal", addr, "--workers", "2", "--json", report)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail, _ := os.ReadFile(filepath.Join(dir, "temporal.log"))
		t.Fatalf("perkflow bench: %v\n%s\nthe Temporal server's log:\n%s", err, out, tail)
	}
	if !strings.Contains(string(out), "2 perkflow worker process(es)") {
		t.Errorf("the bench did not say it started two workers:\n%s", out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Settings struct {
			Workers          int  `json:"workers"`
			ExternalTemporal bool `json:"external_temporal"`
		} `json:"settings"`
		Runs map[string]struct {
			Sent      int `json:"sent"`
			Errors    int `json:"errors"`
			Completed int `json:"completed"`
			Missing   int `json:"missing"`
		} `json:"runs"`
		Memory *struct {
			Worker *struct {
				RSS int64 `json:"rss_bytes"`
			} `json:"worker"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Settings.Workers != 2 || !rep.Settings.ExternalTemporal {
		t.Errorf("settings = %+v; want 2 workers and Temporal of its own", rep.Settings)
	}
	r, ok := rep.Runs["accrual"]
	if !ok || r.Sent == 0 || r.Errors != 0 || r.Missing != 0 || r.Completed != r.Sent {
		t.Errorf("accrual = %+v (ok %v); want every purchase committed", r, ok)
	}
	if rep.Memory == nil || rep.Memory.Worker == nil || rep.Memory.Worker.RSS <= 0 {
		t.Errorf("the workers' memory is not reported")
	}
}
