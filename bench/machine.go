package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
)

// Machine describes where the run happened.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemoryMB   int64  `json:"memory_mb"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Postgres   string `json:"postgres"`
	Temporal   string `json:"temporal"`
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
}

// machineInfo describes this machine: its CPU, cores, memory, kernel and Go.
func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb >> 10
		}
	}
	return m
}

// describeServers records the versions of the Postgres and Temporal servers the run measures.
func describeServers(ctx context.Context, s *stack, m *Machine) {
	_ = s.pool.QueryRow(ctx, `SHOW server_version`).Scan(&m.Postgres)
	if si, err := s.tc.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{}); err == nil {
		m.Temporal = si.GetServerVersion()
	}
	if m.Temporal == "" {
		m.Temporal = "unknown"
	}
	if s.stopTemporal != nil {
		m.Temporal += " (embedded, SQLite)"
	}
}
