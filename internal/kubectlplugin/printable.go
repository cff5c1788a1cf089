package kubectlplugin

import (
	"io"
	"strings"
	"unicode"
)

// What the plugin prints comes in part from fields a namespace user controls (names,
// messages that quote a spec, events): a control character there (an escape sequence, a
// carriage return) could rewrite the terminal of whoever runs the command, or hide a line.
// Every output stream goes through printable, which shows such characters as U+FFFD.

// Printable replaces the control characters of s, but for newline and tab, with U+FFFD.
func Printable(s string) string {
	if strings.IndexFunc(s, isUnprintable) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isUnprintable(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func isUnprintable(r rune) bool { return r != '\n' && r != '\t' && unicode.IsControl(r) }

// printableWriter passes writes on with their control characters replaced.
type printableWriter struct{ w io.Writer }

func (p printableWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, Printable(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}
