package config

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests hold the operations side of docker-compose.yml to the code: the healthchecks run perkflow's own
// probe, Prometheus scrapes the listeners the processes open, traces go to the Jaeger service, the Temporal UI is
// the version perkflow dev embeds.

// composeOps is the part of a service these tests read beyond composeService.
type composeOps struct {
	Services map[string]struct {
		Image       string     `yaml:"image"`
		Command     []string   `yaml:"command"`
		Environment composeEnv `yaml:"environment"`
		Ports       []string   `yaml:"ports"`
		Volumes     []string   `yaml:"volumes"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

func loadComposeOps(t *testing.T) composeOps {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var f composeOps
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestComposeTemporalUIMatchesTheEmbeddedUI: the UI compose runs is the one perkflow dev embeds.
func TestComposeTemporalUIMatchesTheEmbeddedUI(t *testing.T) {
	mod, err := os.ReadFile(goModPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github\.com/temporalio/ui-server/v2 v(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/temporalio/ui-server/v2")
	}
	if img := loadComposeOps(t).Services["temporal-ui"].Image; img != "temporalio/ui:"+string(m[1]) {
		t.Errorf("temporal-ui runs %s; perkflow dev embeds ui-server v%s", img, m[1])
	}
}

// TestComposeProbesAndScrapes: the API and the worker are healthchecked by `perkflow healthcheck` (the image has no
// shell); each serves its metrics on all interfaces of PERKFLOW_METRICS_ADDR, unpublished; Prometheus scrapes
// exactly those listeners and loads the alert rules; the processes export traces to the Jaeger service.
func TestComposeProbesAndScrapes(t *testing.T) {
	f := loadComposeOps(t)
	prom := f.Services["prometheus"]
	scraped := prometheusTargets(t, prom.Volumes)
	for _, name := range []string{"perkflow-api", "perkflow-worker"} {
		s := f.Services[name]
		role := s.Command[0]
		if s.Healthcheck == nil || !slices.Equal(s.Healthcheck.Test, []string{"CMD", "/usr/local/bin/perkflow", "healthcheck", role}) {
			t.Errorf("%s: healthcheck %v, want [CMD /usr/local/bin/perkflow healthcheck %s]", name, s.Healthcheck, role)
		}
		host, port, err := net.SplitHostPort(s.Environment["PERKFLOW_METRICS_ADDR"])
		if err != nil || host != "0.0.0.0" {
			t.Errorf("%s: PERKFLOW_METRICS_ADDR=%q, want 0.0.0.0:PORT (Prometheus scrapes it from its own container)", name, s.Environment["PERKFLOW_METRICS_ADDR"])
			continue
		}
		if slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
			t.Errorf("%s publishes its metrics port %s; it is for the compose network only", name, port)
		}
		if !slices.Contains(scraped, name+":"+port) {
			t.Errorf("prometheus does not scrape %s:%s (it scrapes %v)", name, port, scraped)
		}
		u, err := url.Parse(s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
		if err != nil || u.Hostname() != "jaeger" || u.Port() != "4318" || s.Environment["OTEL_EXPORTER_OTLP_PROTOCOL"] != "http/protobuf" {
			t.Errorf("%s exports traces to %q over %q, want http://jaeger:4318 over http/protobuf", name,
				s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"], s.Environment["OTEL_EXPORTER_OTLP_PROTOCOL"])
		}
	}
	if _, ok := f.Services["jaeger"]; !ok {
		t.Error("no jaeger service receives the traces")
	}
}

// prometheusTargets reads the Prometheus configuration the service mounts, checks that it loads the alert rules
// the service also mounts, and returns its static targets.
func prometheusTargets(t *testing.T, volumes []string) []string {
	t.Helper()
	mounts := map[string]string{} // container path → file in the repository
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			mounts[parts[1]] = "../../" + strings.TrimPrefix(parts[0], "./")
		}
	}
	data, err := os.ReadFile(mounts["/etc/prometheus/prometheus.yml"])
	if err != nil {
		t.Fatalf("prometheus mounts no /etc/prometheus/prometheus.yml of the repository: %v", err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.RuleFiles {
		if _, err := os.Stat(mounts[r]); err != nil {
			t.Errorf("prometheus loads %s, which the service does not mount from the repository", r)
		}
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	return targets
}
