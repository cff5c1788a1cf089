package kubectlplugin

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// humanDuration writes d (its absolute value), rounded down, the way a person reads a time
// left: "45s", "4m5s", "12m", "1h12m", "2h", "3d4h".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 10*60:
		return pair(s/60, "m", s%60, "s")
	case s < 60*60:
		return fmt.Sprintf("%dm", s/60)
	case s < 24*60*60:
		return pair(s/3600, "h", s%3600/60, "m")
	default:
		return pair(s/86400, "d", s%86400/3600, "h")
	}
}

// pair writes "1h12m", or "2h" when the smaller unit is zero.
func pair(big int64, bigUnit string, small int64, smallUnit string) string {
	if small == 0 {
		return fmt.Sprintf("%d%s", big, bigUnit)
	}
	return fmt.Sprintf("%d%s%d%s", big, bigUnit, small, smallUnit)
}

// expiresIn is the EXPIRES IN column: the time left, "expired 3m ago", or "-" without a token.
func expiresIn(now time.Time, expiresAt *metav1.Time) string {
	if expiresAt == nil {
		return "-"
	}
	left := expiresAt.Sub(now)
	if left <= 0 {
		return "expired " + humanDuration(left) + " ago"
	}
	return humanDuration(left)
}

// renewsIn is the RENEWS IN column: the time until the renewal, "overdue 2m" once the
// renewal time has passed without one, or "-" when nothing is scheduled.
func renewsIn(now time.Time, renewAt *metav1.Time) string {
	if renewAt == nil {
		return "-"
	}
	left := renewAt.Sub(now)
	if left <= 0 {
		return "overdue " + humanDuration(left)
	}
	return humanDuration(left)
}

// relative is "in 1h59m" for a time to come, "3m ago" for one past.
func relative(now, t time.Time) string {
	if t.After(now) {
		return "in " + humanDuration(t.Sub(now))
	}
	return humanDuration(now.Sub(t)) + " ago"
}

// truncate shortens s to at most n characters, ending it with "..." when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 3 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-3]) + "..."
}

// cell makes a value fit one table cell: one line, no tabs, "-" when empty.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// writeTable prints a header and rows aligned in columns, like kubectl get.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintf(tw, "%s\n", strings.Join(header, "\t"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		fmt.Fprintf(tw, "%s\n", strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// thousands writes n with comma separators: 15000 → "15,000".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// stamp writes a time in UTC, RFC 3339, as status does.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
