package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	enums "go.temporal.io/api/enums/v1"
)

// child is perkflow api or perkflow worker, run as a separate process so that its memory and CPU are its own.
type child struct {
	role   string // api or worker
	name   string // role, or worker-2… for the further workers: its log's and profiles' name
	cmd    *exec.Cmd
	pprof  string // host:port of its profiling endpoint, or ""
	log    string
	exited chan struct{}
	err    error
}

func (c *child) pid() int {
	if c == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

func (s *stack) startChild(role, name string, env []string) (*child, error) {
	c := &child{role: role, name: name, log: filepath.Join(s.dir, name+".log"), exited: make(chan struct{})}
	if s.opts.PprofDir != "" {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		c.pprof = addr
	}
	// Each child serves its metrics and probes on a port of its own.
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := s.opts.ChildArgs(role, c.pprof)
	c.cmd = exec.Command(s.opts.Exe, args...)
	c.cmd.Env = append(slices.Clone(env), "PERKFLOW_METRICS_ADDR="+metricsAddr)
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = f, f
	dieWithParent(c.cmd)
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start perkflow %s: %w", role, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	return c, nil
}

// waitReady waits until the API answers /readyz and the workers (that many pollers) poll its task queue.
func (s *stack) waitReady(ctx context.Context, workers int) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if err := s.childrenAlive(); err != nil {
			return err
		}
		ready := false
		if res, err := hc.Get(s.apiURL + "/readyz"); err == nil {
			ready = res.StatusCode == http.StatusOK
			res.Body.Close()
		}
		if ready && workers > 0 {
			d, err := s.tc.DescribeTaskQueue(ctx, s.taskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW)
			ready = err == nil && len(d.GetPollers()) >= workers
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("perkflow api/worker not ready after 90 s (logs in %s): %w", s.dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// childrenAlive reports a child that has exited, with the end of its log.
func (s *stack) childrenAlive() error {
	for _, c := range s.children() {
		select {
		case <-c.exited:
			tail, _ := os.ReadFile(c.log)
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("perkflow %s (%s) exited (%v); its log ends:\n%s", c.role, c.name, c.err, tail)
		default:
		}
	}
	return nil
}

func stopChild(c *child) {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// children are the processes the bench started: the API, then the workers.
func (s *stack) children() []*child {
	var out []*child
	if s.api != nil {
		out = append(out, s.api)
	}
	return append(out, s.workers...)
}

// workerPIDs are the worker processes' pids.
func (s *stack) workerPIDs() []int {
	var pids []int
	for _, w := range s.workers {
		if pid := w.pid(); pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// memory reads the resident memory of the API and of the worker processes (summed over them).
func (s *stack) memory() (api, worker *Memory) {
	if pid := s.api.pid(); pid > 0 {
		if m, err := procMemory(pid); err == nil {
			api = &m
		}
	}
	for _, pid := range s.workerPIDs() {
		if m, err := procMemory(pid); err == nil {
			if worker == nil {
				worker = &Memory{}
			}
			worker.RSSBytes += m.RSSBytes
			worker.PeakBytes += m.PeakBytes
		}
	}
	return
}
