package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the kernel's USER_HZ, in which /proc reports CPU times; 100 on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user + system) process pid has used, plus, with children, that of its reaped children.
func procCPU(pid int, children bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it start past the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var ticks int64
	n := 2
	if children {
		n = 4
	}
	for _, s := range f[11 : 11+n] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineCPU is the busy CPU time of the whole machine, all cores, and the number of cores.
func machineCPU() (time.Duration, int, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var busy int64
	cores := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "cpu ") {
			fs := strings.Fields(line)[1:]
			for i, s := range fs {
				v, _ := strconv.ParseInt(s, 10, 64)
				// idle (3) and iowait (4) are not busy; guest times are already in user.
				if i != 3 && i != 4 && i < 8 {
					busy += v
				}
			}
		} else if strings.HasPrefix(line, "cpu") {
			cores++
		}
	}
	return time.Duration(busy) * clockTick, cores, sc.Err()
}

// postgresCPU sums the CPU time of the Postgres backends serving database db (their process title names it), so
// that other databases on a shared server do not count. A backend that exited is no longer counted: the bench's
// pools keep theirs open.
func postgresCPU(db string) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var total time.Duration
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		title, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(title), " "+db+" ") {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if c, err := procCPU(pid, false); err == nil {
			total += c
		}
	}
	return total
}

// Memory is a process's resident memory, from /proc/PID/status.
type Memory struct {
	RSSBytes  int64 `json:"rss_bytes"`  // VmRSS: resident now
	PeakBytes int64 `json:"peak_bytes"` // VmHWM: the most it has been resident
}

func procMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			m.RSSBytes = kb << 10
		} else {
			m.PeakBytes = kb << 10
		}
	}
	return m, nil
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPUUse is where the CPU went during a step: CPU time per completed operation for each process, over and above
// what the process uses when idle (Baseline), and the machine's total, so that the cost of each part can be compared
// and the load of others on the machine seen.
type CPUUse struct {
	// Per completed operation, in microseconds of CPU, net of the idle baseline.
	APIMicros      float64 `json:"api_us_per_op"`
	WorkerMicros   float64 `json:"worker_us_per_op"`
	BenchMicros    float64 `json:"bench_us_per_op"`    // this process: the embedded Temporal server, the floor's worker, the load generator
	PostgresMicros float64 `json:"postgres_us_per_op"` // the backends serving the bench's database
	// Utilisation during the step, in cores (of Cores).
	MachineCores float64 `json:"machine_busy_cores"`
	OtherCores   float64 `json:"other_busy_cores"` // busy cores not spent by perkflow, the bench or Postgres
	Cores        int     `json:"cores"`
}

// Baseline is the CPU each process uses when no load runs, in cores.
type Baseline struct {
	API      float64 `json:"api_cores"`
	Worker   float64 `json:"worker_cores"`
	Bench    float64 `json:"bench_cores"`
	Postgres float64 `json:"postgres_cores"`
	Machine  float64 `json:"machine_cores"`
}

// cpuProbe snapshots CPU counters at the start of a step.
type cpuProbe struct {
	at                    time.Time
	api, worker, self, pg time.Duration
	machine               time.Duration
	cores                 int
	apiPID, selfPID       int
	workerPIDs            []int // the worker processes, summed
	db                    string
	base                  *Baseline
}

func startCPUProbe(apiPID int, workerPIDs []int, db string, base *Baseline) *cpuProbe {
	p := &cpuProbe{apiPID: apiPID, workerPIDs: workerPIDs, selfPID: os.Getpid(), db: db, base: base}
	p.api, p.worker, p.self, p.pg, p.machine, p.cores = p.read()
	p.at = time.Now()
	return p
}

func (p *cpuProbe) read() (api, worker, self, pg, machine time.Duration, cores int) {
	if p.apiPID > 0 {
		api, _ = procCPU(p.apiPID, false)
	}
	for _, pid := range p.workerPIDs {
		w, _ := procCPU(pid, false)
		worker += w
	}
	self, _ = procCPU(p.selfPID, false)
	pg = postgresCPU(p.db)
	machine, cores, _ = machineCPU()
	return
}

// baseline measures the cores each process used since start.
func (p *cpuProbe) baseline() *Baseline {
	api, worker, self, pg, machine, _ := p.read()
	wall := time.Since(p.at).Seconds()
	if wall <= 0 {
		return nil
	}
	return &Baseline{
		API: (api - p.api).Seconds() / wall, Worker: (worker - p.worker).Seconds() / wall, Bench: (self - p.self).Seconds() / wall,
		Postgres: (pg - p.pg).Seconds() / wall, Machine: (machine - p.machine).Seconds() / wall,
	}
}

// stop measures the use since start, per completed operation, net of the baseline.
func (p *cpuProbe) stop(ops int) *CPUUse {
	api, worker, self, pg, machine, cores := p.read()
	wall := time.Since(p.at)
	if ops <= 0 || wall <= 0 {
		return nil
	}
	b := Baseline{}
	if p.base != nil {
		b = *p.base
	}
	per := func(d time.Duration, idleCores float64) float64 {
		net := d.Seconds() - idleCores*wall.Seconds()
		return max(0, net) * 1e6 / float64(ops)
	}
	u := &CPUUse{
		APIMicros: per(api-p.api, b.API), WorkerMicros: per(worker-p.worker, b.Worker), BenchMicros: per(self-p.self, b.Bench),
		PostgresMicros: per(pg-p.pg, b.Postgres), Cores: cores,
	}
	ours := (api - p.api) + (worker - p.worker) + (self - p.self) + (pg - p.pg)
	u.MachineCores = (machine - p.machine).Seconds() / wall.Seconds()
	u.OtherCores = max(0, (machine-p.machine-ours).Seconds()/wall.Seconds())
	return u
}
