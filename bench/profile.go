package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// startProfiles captures CPU profiles of the API, the worker and this process for dur, when profiling is on; the
// returned function waits for them.
func (s *stack) startProfiles(ctx context.Context, name string, dur time.Duration, progress func(string, ...any)) func() {
	if s.opts.PprofDir == "" {
		return func() {}
	}
	secs := max(1, int(dur.Seconds()))
	var wg sync.WaitGroup
	for _, c := range s.children() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file := filepath.Join(s.opts.PprofDir, fmt.Sprintf("%s-%s.cpu.pprof", name, c.name))
			if err := profileChild(ctx, c, "profile", secs, file); err != nil {
				progress("  profiling perkflow %s: %v", c.name, err)
			}
		}()
	}
	file := filepath.Join(s.opts.PprofDir, name+"-bench.cpu.pprof")
	f, err := os.Create(file)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
			f = nil
		}
	}
	if err != nil {
		progress("  profiling the bench process: %v", err)
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		wg.Wait()
	}
}

func (s *stack) heapProfiles(ctx context.Context, name string, progress func(string, ...any)) {
	if s.opts.PprofDir == "" {
		return
	}
	for _, c := range s.children() {
		file := filepath.Join(s.opts.PprofDir, fmt.Sprintf("%s-%s.heap.pprof", name, c.name))
		if err := profileChild(ctx, c, "heap", 0, file); err != nil {
			progress("  heap profile of perkflow %s: %v", c.name, err)
		}
	}
}

// profileChild fetches a profile from a child's profiling endpoint into file: kind "profile" (CPU, for seconds) or
// "heap".
func profileChild(ctx context.Context, c *child, kind string, seconds int, file string) error {
	if c == nil || c.pprof == "" {
		return nil
	}
	u := "http://" + c.pprof + "/debug/pprof/" + kind
	if kind == "profile" {
		u += "?seconds=" + strconv.Itoa(seconds)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, res.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
