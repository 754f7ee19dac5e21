package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/perkflow/perkflow/internal/config"
)

const chart = "helm/perkflow"

// chartValues are the values files the chart is linted and rendered with: a self-hosted Temporal with secrets made
// by the chart, and Temporal Cloud (mTLS and an API key) with the operator's own Secrets.
var chartValues = []string{"ci/selfhosted-values.yaml", "ci/cloud-values.yaml"}

// helmBinary is bin/helm (make lint installs it), else helm on PATH; the test is skipped without either, except on CI.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("../bin/helm"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("helm is not installed: make test runs make lint first, which installs bin/helm")
	}
	t.Skip("helm is not installed: run `make lint` (it installs bin/helm)")
	return ""
}

func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("helm %s: %s", strings.Join(args, " "), stderr.String())
	}
	return out, err
}

// rendered is a chart rendered and decoded strictly into the Kubernetes API's types.
type rendered struct {
	deployments []appsv1.Deployment
	jobs        []batchv1.Job
	services    []corev1.Service
	secrets     []corev1.Secret
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	pdbs        []policyv1.PodDisruptionBudget
}

// strict decodes one manifest into v, refusing a field v's type does not have: schema downloads are not reachable
// here, so the Go types of k8s.io/api stand for the API server's schema.
func strict(t *testing.T, doc []byte, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("not YAML: %v\n%s", err, doc)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("not a valid %T: %v\n%s", v, err, doc)
	}
}

func render(t *testing.T, values string) rendered {
	t.Helper()
	out, err := helm(t, "template", "perkflow", chart, "--namespace", "loyalty", "-f", filepath.Join(chart, values))
	if err != nil {
		t.Fatalf("helm template -f %s: %v", values, err)
	}
	var r rendered
	for _, doc := range bytes.Split(out, []byte("\n---")) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		switch head.APIVersion + " " + head.Kind {
		case " ":
			continue // a comment-only document
		case "apps/v1 Deployment":
			var d appsv1.Deployment
			strict(t, doc, &d)
			r.deployments = append(r.deployments, d)
		case "batch/v1 Job":
			var j batchv1.Job
			strict(t, doc, &j)
			r.jobs = append(r.jobs, j)
		case "v1 Service":
			var s corev1.Service
			strict(t, doc, &s)
			r.services = append(r.services, s)
		case "v1 Secret":
			var s corev1.Secret
			strict(t, doc, &s)
			r.secrets = append(r.secrets, s)
		case "v1 ServiceAccount":
			strict(t, doc, &corev1.ServiceAccount{})
		case "autoscaling/v2 HorizontalPodAutoscaler":
			var h autoscalingv2.HorizontalPodAutoscaler
			strict(t, doc, &h)
			r.hpas = append(r.hpas, h)
		case "policy/v1 PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			strict(t, doc, &p)
			r.pdbs = append(r.pdbs, p)
		default:
			t.Fatalf("the chart renders a %s %s, which this test does not check", head.APIVersion, head.Kind)
		}
	}
	return r
}

func TestHelmChartLints(t *testing.T) {
	for _, v := range chartValues {
		if _, err := helm(t, "lint", "--strict", chart, "-f", filepath.Join(chart, v)); err != nil {
			t.Errorf("helm lint -f %s: %v", v, err)
		}
	}
	// Without a database or a member-token secret the chart refuses to render, saying what to set.
	if _, err := helm(t, "template", "perkflow", chart); err == nil {
		t.Error("the chart renders without postgres.url or postgres.existingSecret")
	}
}

// TestHelmChartRendersHardenedWorkloads: the api and the worker run as Deployments with readiness and liveness
// probes through `perkflow healthcheck`, an autoscaler (when enabled) and a disruption budget each; migrations run
// in a Job hooked before install and upgrade; every pod is non-root on a read-only root filesystem with resource
// requests.
func TestHelmChartRendersHardenedWorkloads(t *testing.T) {
	for _, v := range chartValues {
		t.Run(v, func(t *testing.T) {
			r := render(t, v)
			roles := map[string]appsv1.Deployment{}
			for _, d := range r.deployments {
				c := d.Spec.Template.Spec.Containers[0]
				role := c.Args[0]
				roles[role] = d
				for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
					if p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command[:3], []string{"/usr/local/bin/perkflow", "healthcheck", role}) {
						t.Errorf("%s: a probe that is not `perkflow healthcheck %s`: %+v", d.Name, role, p)
					}
				}
				checkHardened(t, d.Name, d.Spec.Template.Spec)
				if !slices.ContainsFunc(r.pdbs, func(p policyv1.PodDisruptionBudget) bool { return p.Name == d.Name }) {
					t.Errorf("%s has no PodDisruptionBudget", d.Name)
				}
				if d.Spec.Replicas == nil && !slices.ContainsFunc(r.hpas, func(h autoscalingv2.HorizontalPodAutoscaler) bool {
					return h.Spec.ScaleTargetRef.Name == d.Name
				}) {
					t.Errorf("%s has neither replicas nor an autoscaler", d.Name)
				}
			}
			if _, ok := roles["api"]; !ok {
				t.Error("no api Deployment")
			}
			if _, ok := roles["worker"]; !ok {
				t.Error("no worker Deployment")
			}
			if len(r.jobs) != 1 || r.jobs[0].Spec.Template.Spec.Containers[0].Args[0] != "migrate" ||
				r.jobs[0].Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
				t.Fatalf("want one migrate Job hooked pre-install,pre-upgrade, got %+v", r.jobs)
			}
			checkHardened(t, r.jobs[0].Name, r.jobs[0].Spec.Template.Spec)
			for _, s := range r.secrets {
				// The migrate hook reads the chart's Secret, so it must exist before: a hook of lower weight.
				if s.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" || s.Annotations["helm.sh/hook-weight"] != "-10" {
					t.Errorf("secret %s is not created before the migrate hook: %v", s.Name, s.Annotations)
				}
			}
		})
	}
}

func checkHardened(t *testing.T, name string, pod corev1.PodSpec) {
	t.Helper()
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s may run as root", name)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token it does not need", name)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: root filesystem writable or privilege escalation allowed", name, c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s/%s has no CPU and memory requests", name, c.Name)
		}
	}
}

// TestHelmChartEnvironmentIsDeclared: like docker-compose.yml, the chart sets only variables internal/config
// declares; a secret comes from a Secret, never a literal; every process gets its database and (but for migrate)
// Temporal; a Temporal client certificate is a file the pod mounts.
func TestHelmChartEnvironmentIsDeclared(t *testing.T) {
	declared := map[string]config.Var{}
	for _, v := range config.Vars {
		declared[v.Name] = v
	}
	for _, values := range chartValues {
		r := render(t, values)
		pods := map[string]corev1.PodSpec{}
		for _, d := range r.deployments {
			pods[d.Name] = d.Spec.Template.Spec
		}
		for _, j := range r.jobs {
			pods[j.Name] = j.Spec.Template.Spec
		}
		for name, pod := range pods {
			c := pod.Containers[0]
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
				v, ok := declared[e.Name]
				if !ok {
					t.Errorf("%s (%s) sets %s, which perkflow does not read (not in config.Vars)", name, values, e.Name)
					continue
				}
				if v.Secret && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s (%s): %s is a secret; take it from a Secret, not a literal", name, values, e.Name)
				}
			}
			want := []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "PERKFLOW_METRICS_ADDR"}
			if c.Args[0] == "migrate" {
				want = []string{"DATABASE_URL"}
			}
			for _, k := range want {
				if _, ok := env[k]; !ok {
					t.Errorf("%s (%s) does not set %s", name, values, k)
				}
			}
			for _, k := range []string{"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"} {
				if e, ok := env[k]; ok && !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
					return strings.HasPrefix(e.Value, m.MountPath+"/")
				}) {
					t.Errorf("%s (%s): %s=%s is in no mounted volume", name, values, k, e.Value)
				}
			}
		}
	}
}
