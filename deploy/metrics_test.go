package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/perkflow/perkflow/internal/metrics"
)

// ruleFile is the part of a Prometheus rule file these tests read; unknown keys are refused.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	f, err := os.Open("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var rf ruleFile
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	return rf
}

var (
	quoted    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matchers  = regexp.MustCompile(`\{[^}]*\}`)
	ranges    = regexp.MustCompile(`\[[^\]]*\]`)
	groupings = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	ident     = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(\s*\()?`)
	keywords  = []string{"and", "or", "unless", "offset", "bool", "by", "without", "inf", "nan"}
)

// metricNames are the metrics a PromQL expression reads: its identifiers that are neither functions, keywords,
// labels (in matchers and groupings) nor durations.
func metricNames(expr string) []string {
	e := quoted.ReplaceAllString(expr, `""`)
	e = matchers.ReplaceAllString(e, " ")
	e = ranges.ReplaceAllString(e, " ")
	e = groupings.ReplaceAllString(e, " ")
	var out []string
	for _, m := range ident.FindAllStringSubmatch(e, -1) {
		name := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[0]), "("))
		if m[1] != "" || slices.Contains(keywords, strings.ToLower(name)) {
			continue // a function, or a keyword
		}
		out = append(out, name)
	}
	return out
}

// sdkMetricNames are the metric names the Temporal SDK defines (internal/common/metrics/constants.go of the
// module this build uses).
func sdkMetricNames(t *testing.T) []string {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/sdk").Output()
	if err != nil {
		t.Fatalf("locate the Temporal SDK: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "internal", "common", "metrics", "constants.go"))
	if err != nil {
		t.Fatal(err)
	}
	// Name = TemporalMetricsPrefix + "x", or Name = OtherName + "_suffix".
	values := map[string]string{"TemporalMetricsPrefix": "temporal_"}
	decl := regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*(\w+) \+ "([a-z0-9_]+)"`)
	for range 2 { // the second pass resolves names built on names declared later
		for _, m := range decl.FindAllSubmatch(src, -1) {
			if base, ok := values[string(m[2])]; ok {
				values[string(m[1])] = base + string(m[3])
			}
		}
	}
	var names []string
	for k, v := range values {
		if k != "TemporalMetricsPrefix" {
			names = append(names, v)
		}
	}
	if len(names) < 20 {
		t.Fatalf("found only %d SDK metric names; has the SDK moved them?", len(names))
	}
	return names
}

// exported says whether a series name read by a rule or panel is one a perkflow process exports: perkflow's own
// (with a histogram's _bucket, _count and _sum), the Temporal SDK's (as the OpenTelemetry exporter names them:
// _seconds for durations, _total for counters), or Prometheus's `up`.
func exported(name string, sdk []string) bool {
	if name == "up" {
		return true
	}
	base := name
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		base = strings.TrimSuffix(base, suffix)
	}
	if strings.HasPrefix(name, "perkflow_") {
		return slices.Contains(metrics.Names(), name) || slices.Contains(metrics.Names(), base)
	}
	if strings.HasPrefix(name, "temporal_") {
		sdkName := strings.TrimSuffix(strings.TrimSuffix(base, "_total"), "_seconds")
		return slices.Contains(sdk, sdkName)
	}
	return false
}

// TestAlertRulesReadMetricsThatExist: alerts.yml parses (strictly: an unknown key is a typo), every rule is an
// alert with an expression, a severity and a summary, and every metric an expression reads is exported. `make lint`
// also parses the expressions with promtool and runs alerts_test.yml.
func TestAlertRulesReadMetricsThatExist(t *testing.T) {
	sdk := sdkMetricNames(t)
	rf := loadRules(t)
	var alerts int
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("group %s: a rule without alert, expr or summary: %+v", g.Name, r)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			names := metricNames(r.Expr)
			if len(names) == 0 {
				t.Errorf("%s reads no metric: %s", r.Alert, r.Expr)
			}
			for _, n := range names {
				if !exported(n, sdk) {
					t.Errorf("%s reads %s, which no perkflow process exports", r.Alert, n)
				}
			}
		}
	}
	if alerts < 10 {
		t.Errorf("only %d alerts", alerts)
	}
}

// TestDashboardReadsMetricsThatExist: every panel of the Grafana dashboard queries the provisioned Prometheus data
// source for metrics perkflow exports, and the dashboard covers what the on-call engineer looks at first.
func TestDashboardReadsMetricsThatExist(t *testing.T) {
	sdk := sdkMetricNames(t)
	data, err := os.ReadFile("grafana/dashboards/perkflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Type       string `json:"type"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q does not query the provisioned Prometheus (uid prometheus)", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range metricNames(tg.Expr) {
				read[n] = true
				if !exported(n, sdk) {
					t.Errorf("panel %q reads %s, which no perkflow process exports", p.Title, n)
				}
			}
		}
	}
	for _, want := range []string{metrics.HTTPRequestDuration + "_bucket", metrics.TemporalWorkflowTaskScheduleToStart + "_bucket",
		metrics.TemporalWorkflowFailed, metrics.PointsOutstanding, metrics.NotificationsFailed, metrics.PointsIssued} {
		if !read[want] {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}

// TestTemporalMetricNamesAreTheSDKs: the names internal/metrics gives the SDK's metrics are the SDK's own.
func TestTemporalMetricNamesAreTheSDKs(t *testing.T) {
	sdk := sdkMetricNames(t)
	for _, n := range []string{metrics.TemporalWorkflowTaskScheduleToStart, metrics.TemporalWorkflowTaskExecution,
		metrics.TemporalActivityScheduleToStart, metrics.TemporalActivityExecution, metrics.TemporalLocalActivityExecution,
		metrics.TemporalActivityFailed, metrics.TemporalWorkflowFailed, metrics.TemporalWorkflowCompleted,
		metrics.TemporalWorkflowTaskFailed, metrics.TemporalRequestFailure} {
		if !exported(n, sdk) {
			t.Errorf("%s is not a metric of the Temporal SDK", n)
		}
	}
}

func TestMetricNamesOfAnExpression(t *testing.T) {
	got := metricNames(`sum by (provider) (rate(perkflow_notifications_failed_total{reason="refused", x="a{b}"}[15m])) / clamp_min(sum(rate(perkflow_notifications_sent_total[$__rate_interval])), 1e-9) > 0.05 and up offset 1h`)
	want := []string{"perkflow_notifications_failed_total", "perkflow_notifications_sent_total", "up"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
