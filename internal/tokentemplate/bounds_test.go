package tokentemplate

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// What one Check or Render may cost, whatever the template and the fields.
const (
	timeBudget = 2 * time.Second
	// allocBudget is 8 times the total cap: the functions' results (MaxFuncBytes at most),
	// the keys (MaxTotalBytes, and as much again while their buffers grow) and the
	// template engine's own work for a template of up to MaxTemplateChars.
	allocBudget = 8 * MaxTotalBytes
)

// within runs fn under a deadline and fails t when fn runs past timeBudget, panics, or
// allocates more than allocBudget (as counted by runtime.MemStats.TotalAlloc, around the
// call alone).
func within(t testing.TB, what string, fn func() error) error {
	t.Helper()
	type result struct {
		err   error
		alloc uint64
		panic any
	}
	done := make(chan result, 1)
	deadline := time.NewTimer(timeBudget)
	defer deadline.Stop()
	go func() {
		var r result
		defer func() {
			r.panic = recover()
			done <- r
		}()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r.err = fn()
		runtime.ReadMemStats(&after)
		r.alloc = after.TotalAlloc - before.TotalAlloc
	}()

	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("%s panicked: %v", what, r.panic)
		}
		if r.alloc > allocBudget {
			t.Fatalf("%s allocated %d bytes, more than %d", what, r.alloc, allocBudget)
		}
		return r.err
	case <-deadline.C:
		t.Fatalf("%s did not return within %v", what, timeBudget)
		return nil
	}
}

// bombs are templates that, without bounds, run forever or allocate until the operator's
// Pod is killed.
var bombs = []string{
	`{{range 100000000000}}{{end}}`,
	`{{range 100000000}}{{printf "%01000000d" 0}}{{end}}`,
	`{{ printf "%01000000000d" 0 }}`,
	fmt.Sprintf(`{{ replace "" %q (replace "" %q .AccessToken) }}`, strings.Repeat("x", 8000), strings.Repeat("y", 8000)),
	fmt.Sprintf(`{{ replace "" %q .AccessToken }}`, strings.Repeat("x", MaxTemplateChars-40)),
	fmt.Sprintf(`{{ .AccessToken | replace "" %q | replace "" %q }}`, strings.Repeat("x", 100), strings.Repeat("y", 100)),
	`{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}`,
	`{{block "r" .}}{{template "r" .}}{{end}}`,
	`{{ $x := .AccessToken }}{{ $x = printf "%s%s" $x $x }}`,
	"{{" + strings.Repeat("(", 100) + ".AccessToken" + strings.Repeat(")", 100) + "}}",
	"{{ " + strings.Repeat("b64enc (", 60) + ".AccessToken" + strings.Repeat(")", 60) + " }}",
}

func TestBombs(t *testing.T) {
	f := fields()
	for i, bomb := range bombs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			tmpl := tmplOf(map[string]string{"bomb": bomb})
			want := `spec.tokenSecret.template.data["bomb"]`
			err := within(t, "Check", func() error { return Check(tmpl) })
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Check = %v, want an error naming the key", err)
			}
			err = within(t, "Render", func() error { _, err := Render(tmpl, f); return err })
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), f.AccessToken) {
				t.Fatalf("Render = %v, want an error naming the key and not the token", err)
			}
		})
	}
}

// TestWorstCases: templates as long as the CRD allows, shaped to make the parser, the
// engine or the functions work hardest, stay within the budgets, in every key.
func TestWorstCases(t *testing.T) {
	n := func(unit string) int { return MaxTemplateChars / len(unit) }
	cases := map[string]string{
		"numbers":           strings.Repeat("{{1}}", n("{{1}}")),
		"fields":            strings.Repeat("{{.Name}}", n("{{.Name}}")),
		"pipelines":         "{{ .Name" + strings.Repeat(" | upper", n(" | upper")-2) + " }}",
		"arguments":         "{{ upper" + strings.Repeat(" 1", n(" 1")-6) + " }}",
		"nested":            strings.Repeat("{{ upper (upper (upper (upper (upper (upper (upper (upper .Name))))))) }}", n("{{ upper (upper (upper (upper (upper (upper (upper (upper .Name))))))) }}")),
		"grown":             strings.Repeat(grow(4096), n(grow(4096))),
		"text":              strings.Repeat("x", MaxTemplateChars),
		"parentheses":       "{{" + strings.Repeat("(", MaxTemplateChars/2-10) + "1" + strings.Repeat(")", MaxTemplateChars/2-10) + "}}",
		"refused functions": strings.Repeat("{{ printf .Name }}", n("{{ printf .Name }}")),
		"wide characters":   `{{ "` + strings.Repeat("\U0010FFFF", MaxTemplateChars-40) + `" | upper | quote | json }}`,
		"token fields":      strings.Repeat("{{ .AccessToken }}", n("{{ .AccessToken }}")),
		"b64enc":            strings.Repeat(`{{ b64enc "`+strings.Repeat("z", 1000)+`" }}`, n(`{{ b64enc "`+strings.Repeat("z", 1000)+`" }}`)),
		"invalid UTF-8":     `{{ "` + strings.Repeat(`\xff`, (MaxTemplateChars-30)/4) + `" | upper | quote | json }}`,
	}
	f := fields()
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if l := len([]rune(text)); l > MaxTemplateChars {
				t.Fatalf("test template of %d characters", l)
			}
			tmpl := tmplOf(map[string]string{"k": text})
			checkErr := within(t, "Check", func() error { return Check(tmpl) })
			renderErr := within(t, "Render", func() error { _, err := Render(tmpl, f); return err })
			t.Logf("Check: %.200v; Render: %.200v", checkErr, renderErr)
		})
	}
}
