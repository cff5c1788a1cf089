package kubectlplugin

import (
	"bytes"
	"fmt"
	"testing"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                 "plain text",
		"two\nlines\tand a tab":      "two\nlines\tand a tab",
		"\x1b[2J\x1b[Hcleared":       "\uFFFD[2J\uFFFD[Hcleared",
		"ok\rFAKE":                   "ok\uFFFDFAKE",
		"bell\a del\x7f c1\u009b":    "bell\uFFFD del\uFFFD c1\uFFFD",
		"unicode letters: Déjà vu ✓": "unicode letters: Déjà vu ✓",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	var out bytes.Buffer
	w := printableWriter{&out}
	n, err := fmt.Fprintf(w, "Ready=False: %s\n", "user\x1b]0;owned\a")
	if err != nil || n != len("Ready=False: user\x1b]0;owned\a\n") || out.String() != "Ready=False: user\uFFFD]0;owned\uFFFD\n" {
		t.Fatalf("wrote %q (%d, %v)", out.String(), n, err)
	}
}
