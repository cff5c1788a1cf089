package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// sample is one series of the Prometheus text format.
type sample struct {
	labels map[string]string
	value  float64
}

// metricSet holds a scrape, by metric name.
type metricSet map[string][]sample

// parseMetrics reads the Prometheus text exposition format, enough for the series the
// benchmark reads: comments are skipped, a line is name{labels} value [timestamp].
func parseMetrics(text string) metricSet {
	out := metricSet{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		labels := map[string]string{}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			var ok bool
			labels, rest, ok = parseLabels(line[i+1:])
			if !ok {
				continue
			}
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] = append(out[name], sample{labels: labels, value: v})
	}
	return out
}

// parseLabels reads `a="x",b="y"}` and returns the labels and what follows the brace.
func parseLabels(s string) (map[string]string, string, bool) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], true
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", false
		}
		key := s[:eq]
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", false
		}
		labels[key] = b.String()
		s = s[i+1:]
	}
}

func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sum adds the values of the series of name whose labels include want.
func (m metricSet) sum(name string, want map[string]string) float64 {
	total := 0.0
	for _, s := range m[name] {
		if matches(s.labels, want) {
			total += s.value
		}
	}
	return total
}

func (m metricSet) has(name string, want map[string]string) bool {
	for _, s := range m[name] {
		if matches(s.labels, want) {
			return true
		}
	}
	return false
}

// connectionSeries counts the series of the operator's per-connection metrics in a scrape:
// those named sfconn_* with a connection's name label. The request and replica metrics do
// not grow with N and are left out.
func connectionSeries(m metricSet) int {
	n := 0
	for name, samples := range m {
		if !strings.HasPrefix(name, "sfconn_") {
			continue
		}
		for _, s := range samples {
			if _, ok := s.labels["name"]; ok {
				n++
			}
		}
	}
	return n
}

// wireBytes is the size of a /metrics response as Prometheus receives it: Prometheus asks
// for gzip, and the manager's metrics handler compresses. Asking for it by hand keeps Go's
// transport from decompressing the body, so its length is what went over the wire.
func wireBytes(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return int(n), err
}
