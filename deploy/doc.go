// Package deploy holds what runs perkflow outside the binary — the Helm chart (helm/perkflow), the Prometheus
// configuration and alert rules (prometheus/), the Grafana dashboard and its provisioning (grafana/) — and the tests
// that hold them to the code: the rules and the dashboard read metrics perkflow exports, the chart renders valid
// Kubernetes objects whose environment is the one internal/config reads. It has no code.
package deploy
