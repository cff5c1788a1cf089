package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// cpuChunk is the length of one CPU profile request. A phase is covered by consecutive
// chunks, merged afterwards, because the pprof endpoint profiles for a fixed time and the
// phase's length is what is being measured.
const cpuChunk = 5 * time.Second

// cpuProfiler fetches CPU profiles from the manager's pprof endpoint until stopped.
type cpuProfiler struct {
	stop  chan struct{}
	done  chan struct{}
	files []string
	err   error
}

func startCPUProfile(ctx context.Context, pprofAddr, prefix string) *cpuProfiler {
	p := &cpuProfiler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(cpuChunk.Seconds()))
			body, err := httpGet(ctx, url)
			if err != nil {
				p.err = err
				return
			}
			file := fmt.Sprintf("%s-%03d.pprof", prefix, i)
			if err := os.WriteFile(file, body, 0o600); err != nil {
				p.err = err
				return
			}
			p.files = append(p.files, file)
		}
	}()
	return p
}

// finish lets the running chunk end, then merges the chunks into out.
func (p *cpuProfiler) finish(out string) error {
	close(p.stop)
	<-p.done
	if p.err != nil {
		return p.err
	}
	if len(p.files) == 0 {
		return fmt.Errorf("no CPU profile was taken")
	}
	args := append([]string{"tool", "pprof", "-proto", "-output", out}, p.files...)
	if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("merging CPU profiles: %w: %s", err, b)
	}
	for _, f := range p.files {
		_ = os.Remove(f)
	}
	return nil
}

// pprofTop runs go tool pprof -top on a profile and returns its table, header lines
// first, at most lines entries.
func pprofTop(binary, profile string, lines int, extra ...string) (string, error) {
	args := append([]string{"tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", lines)}, extra...)
	args = append(args, binary, profile)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof -top %s: %w", filepath.Base(profile), err)
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// addProfiles puts the top entries of the largest N's profiles into the report.
func (rep *report) addProfiles(bin string) {
	for i := len(rep.Results) - 1; i >= 0; i-- {
		r := rep.Results[i]
		if r.CPUProfile == "" && r.HeapProfile == "" {
			continue
		}
		rep.ProfileFor = r.N
		if r.CPUProfile != "" {
			rep.CPUTop = topOrError(bin, r.CPUProfile, 20)
			rep.CPUTopCum = topOrError(bin, r.CPUProfile, 30, "-cum")
		}
		if r.HeapProfile != "" {
			rep.HeapTop = topOrError(bin, r.HeapProfile, 20, "-sample_index=inuse_space")
		}
		return
	}
}

func topOrError(bin, profile string, lines int, extra ...string) string {
	out, err := pprofTop(bin, profile, lines, extra...)
	if err != nil {
		return err.Error()
	}
	return out
}
