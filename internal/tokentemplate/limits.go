package tokentemplate

import (
	"fmt"
	"unicode/utf8"
)

// The caps. A tenant's template must not be able to make the operator, shared by every
// connection of the cluster, run long or allocate much: the grammar (grammar.go) has no
// loops, and these caps bound what the rest can produce.
const (
	// MaxKeys is how many keys spec.tokenSecret.template.data may hold (the CRD's
	// maxProperties).
	MaxKeys = 32
	// MaxTemplateChars is the length of one data template, in characters (the CRD's
	// maxLength).
	MaxTemplateChars = 16384
	// MaxKeyBytes is the most one rendered key may hold, and the most one function may
	// return.
	MaxKeyBytes = 64 << 10
	// MaxTotalBytes is the most all rendered keys of a Secret may hold together.
	MaxTotalBytes = 256 << 10
	// MaxFuncBytes is the most the function calls of all keys of a Secret may read and
	// return together: each call counts the lengths of its arguments and of its result.
	MaxFuncBytes = 512 << 10
	// maxErrorChars clips what an error quotes of a template, so that a message fits in a
	// status condition (at most 32768 characters).
	maxErrorChars = 1024
)

// LimitError is a cap reached while rendering. Its message is made of the caps only,
// never of a value, so Render can say which cap it was.
type LimitError struct {
	msg string
}

func (e *LimitError) Error() string { return e.msg }

var (
	errKeyTooLong   = &LimitError{fmt.Sprintf("the rendered value would be longer than %d bytes, the most a key may hold", MaxKeyBytes)}
	errTotalTooLong = &LimitError{fmt.Sprintf("the keys would hold more than %d bytes in all, the most a template may render", MaxTotalBytes)}
)

// capWriter collects one key's rendering, refusing a write that would take the key past
// MaxKeyBytes or all keys past MaxTotalBytes, before copying anything.
type capWriter struct {
	buf   []byte
	total *int // bytes all keys may still add
}

func (w *capWriter) Write(p []byte) (int, error) {
	if len(p) > MaxKeyBytes-len(w.buf) {
		return 0, errKeyTooLong
	}
	if len(p) > *w.total {
		return 0, errTotalTooLong
	}
	*w.total -= len(p)
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// clip shortens an error's text to about maxErrorChars characters, keeping its start (the
// location) and its end (the reason; the template engine puts the action between them).
func clip(s string) string {
	if len(s) <= maxErrorChars {
		return s
	}
	head, tail := maxErrorChars/4, len(s)-maxErrorChars*3/4
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + " ... " + s[tail:]
}
