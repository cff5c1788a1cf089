package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// report is a whole benchmark run.
type report struct {
	Started    time.Time `json:"started"`
	Machine    string    `json:"machine"`
	Commit     string    `json:"commit"`
	Options    string    `json:"options"`
	Results    []*result `json:"results"`
	Failures   []string  `json:"failures,omitempty"`
	CPUTop     string    `json:"cpuTop,omitempty"`
	CPUTopCum  string    `json:"cpuTopCum,omitempty"`
	HeapTop    string    `json:"heapTop,omitempty"`
	ProfileFor int       `json:"profileFor,omitempty"`
}

func machine() string {
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s/%s, %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// write saves results.json and results.md in dir.
func (rep *report) write(dir string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), data, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(rep.markdown()), 0o600)
}

func (rep *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# sfconn benchmark, %s\n\n", rep.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s. Source: %s. Options: `%s`.\n\n", rep.Machine, rep.Commit, rep.Options)
	b.WriteString(rep.creationTable())
	b.WriteString(rep.restTable())
	b.WriteString(rep.memoryTable())
	if t := rep.expiryTable(); t != "" {
		b.WriteString(t)
	}
	if rep.CPUTop != "" {
		fmt.Fprintf(&b, "## CPU profile of the creation phase, N=%d (top, flat)\n\n```\n%s\n```\n\n", rep.ProfileFor, rep.CPUTop)
	}
	if rep.CPUTopCum != "" {
		fmt.Fprintf(&b, "## CPU profile of the creation phase, N=%d (top, cumulative)\n\n```\n%s\n```\n\n", rep.ProfileFor, rep.CPUTopCum)
	}
	if rep.HeapTop != "" {
		fmt.Fprintf(&b, "## Heap in use after the creation phase, N=%d (top)\n\n```\n%s\n```\n\n", rep.ProfileFor, rep.HeapTop)
	}
	for _, r := range rep.Results {
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- Note, N=%d: %s\n", r.N, n)
		}
	}
	if len(rep.Failures) > 0 {
		b.WriteString("\n## Targets missed\n\n")
		for _, f := range rep.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

func (rep *report) creationTable() string {
	var b strings.Builder
	b.WriteString("## Creating N connections at once\n\n")
	b.WriteString("The floor is the harness making the API server's four writes per connection itself, at full speed, in the same run:" +
		" a credentials Secret, the connection, a token Secret and a status patch. The ratio is all Ready over the floor;" +
		" with credentials, the time to create the credentials Secrets (before the clock of all Ready starts) is added.\n\n")
	b.WriteString("| N | all Ready | floor (4N writes) | ratio | with credentials | Ready p50 | Ready p99 | idle after | logins/conn | writes/conn: secrets | status | events | other | refused | Secret GETs/conn | reconciles/conn | manager CPU |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		w, n := r.CreateWrites, float64(r.N)
		fmt.Fprintf(&b, "| %d | %s | %s | %.2f× | %.2f× | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %.2f | %.1f | %s |\n",
			r.N, secs(r.AllReadySeconds), secs(r.FloorSeconds), r.floorRatio(), r.floorRatioWithCredentials(), secs(r.ReadyP50), secs(r.ReadyP99), secs(r.SettledSeconds),
			r.loginsPerConnection(), float64(w.Secrets)/n, float64(w.Status)/n, float64(w.Events)/n, float64(w.Other)/n, w.Failed,
			float64(r.CreateReads.SecretGets)/n, r.CreateReconciles/n, secs(r.CreateCPUSeconds))
	}
	b.WriteString("\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "N=%d: creating the connections took the harness %s; a status the operator wrote is %d bytes of JSON, the floor's %d.\n",
			r.N, secs(r.CreateSeconds), r.StatusBytes, r.FloorStatusBytes)
	}
	b.WriteString("\n")
	return b.String()
}

func (rep *report) restTable() string {
	var b strings.Builder
	b.WriteString("## At rest, and a restart with N valid tokens\n\n")
	b.WriteString("| N | rest window | writes at rest | events at rest | Lease renewals | logins at rest | restart: logins | time to N reconciles | idle after | reconciles | manager CPU | Secret GETs | writes | events |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		rest, restart := "| - | - | - | - | -", "| - | - | - | - | - | - | - | -"
		if x := r.Rest; x != nil {
			rest = fmt.Sprintf("| %s | %d | %d | %d | %d", secs(x.Seconds), x.Writes.Total(), x.Writes.Events, x.Writes.Leases, x.TokenRequests)
		}
		if x := r.Restart; x != nil {
			restart = fmt.Sprintf("| %d | %s | %s | %.0f | %s | %d | %d | %d", x.TokenRequests, secs(x.Seconds), secs(x.SettledSeconds),
				x.Reconciles, secs(x.CPUSeconds), x.Reads.SecretGets, x.Writes.Total(), x.Writes.Events)
		}
		fmt.Fprintf(&b, "| %d %s %s |\n", r.N, rest, restart)
	}
	b.WriteString("\n")
	return b.String()
}

func (rep *report) memoryTable() string {
	var b strings.Builder
	b.WriteString("## Manager memory\n\n")
	b.WriteString("| N | RSS | heap in use | /metrics scrape | unrelated Secrets | RSS before | heap before | RSS after | heap after | heap per Secret |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		u := "| - | - | - | - | - | -"
		if x := r.Unrelated; x != nil {
			per := (x.After.HeapInuse - x.Before.HeapInuse) / float64(x.Count)
			u = fmt.Sprintf("| %d | %s | %s | %s | %s | %.0f B", x.Count, mib(x.Before.RSS), mib(x.Before.HeapInuse),
				mib(x.After.RSS), mib(x.After.HeapInuse), per)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s, %.0f KiB (gzip %.0f KiB), %s %s |\n", r.N, mib(r.Memory.RSS), mib(r.Memory.HeapInuse),
			secs(r.Scrape.Seconds), float64(r.Scrape.Bytes)/1024, float64(r.Scrape.GzipBytes)/1024, r.Scrape.perConnection(r.N), u)
	}
	b.WriteString("\n")
	return b.String()
}

func (rep *report) expiryTable() string {
	var b strings.Builder
	rows := 0
	b.WriteString("## N tokens expiring at the same moment\n\n")
	b.WriteString("| N | --salesforce-qps | users | sessionTimeout / renewBefore | logins/conn | peak logins/s | spread | late | max late | writes/renewal: secrets | status | events | other | Secret GETs | reconciles/conn |\n")
	b.WriteString("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		for _, x := range r.Expiry {
			rows++
			qps := "off"
			if x.SalesforceQPS > 0 {
				qps = fmt.Sprintf("%g", x.SalesforceQPS)
				if x.SalesforceBurst > 0 {
					qps += fmt.Sprintf(" (burst %d)", x.SalesforceBurst)
				}
			}
			n, w := float64(r.N), x.Writes
			fmt.Fprintf(&b, "| %d | %s | %d | %s / %s | %.2f | %d | %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f |\n",
				r.N, qps, max(x.Users, 1), x.SessionTimeout, x.RenewBefore, float64(x.TokenRequests)/n, x.PeakPerSecond, secs(x.SpreadSeconds),
				x.Late, secs(x.MaxLateSeconds), float64(w.Secrets)/n, float64(w.Status)/n, float64(w.Events)/n, float64(w.Other)/n,
				float64(x.Reads.SecretGets)/n, x.Reconciles/n)
		}
	}
	b.WriteString("\n")
	if rows == 0 {
		return ""
	}
	return b.String()
}

func secs(s float64) string {
	if s >= 100 {
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func mib(bytes float64) string { return fmt.Sprintf("%.0f MiB", bytes/(1<<20)) }

// replot merges the results of earlier runs and writes them again: to put the N of a
// separate run into one table and plot.
func replot(o *options) (*report, error) {
	var merged *report
	for _, path := range o.replot {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var rep report
		if err := json.Unmarshal(data, &rep); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if merged == nil {
			merged = &rep
			continue
		}
		merged.Results = append(merged.Results, rep.Results...)
		merged.Failures = append(merged.Failures, rep.Failures...)
		merged.Options += "; " + rep.Options
		if rep.ProfileFor > merged.ProfileFor {
			merged.ProfileFor, merged.CPUTop, merged.CPUTopCum, merged.HeapTop = rep.ProfileFor, rep.CPUTop, rep.CPUTopCum, rep.HeapTop
		}
	}
	sort.SliceStable(merged.Results, func(i, j int) bool { return merged.Results[i].N < merged.Results[j].N })
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	if err := writePlot(filepath.Join(o.out, "benchmarks.png"), merged.Results); err != nil {
		return nil, err
	}
	if err := merged.write(o.out); err != nil {
		return nil, err
	}
	fmt.Print(merged.markdown())
	return merged, nil
}
