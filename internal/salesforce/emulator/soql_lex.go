package emulator

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The SOQL lexer: words, quoted strings with their escapes, and punctuation, as the
// REST API reads them.

type soqlTokenKind int

const (
	soqlEOF soqlTokenKind = iota
	soqlWord
	soqlString
	soqlNumber
	soqlComma
	soqlEquals
	soqlSymbol // an operator or punctuation the subset has no use for
)

type soqlToken struct {
	kind soqlTokenKind
	text string // as written; for a string literal, its unescaped value
}

func (t soqlToken) String() string {
	if t.kind == soqlEOF {
		return "end of query"
	}
	return "'" + t.text + "'"
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lexSOQL splits a query into tokens. Names may hold dots so that a relationship path such as
// User.Name reads as one (unknown) field rather than as stray punctuation.
func lexSOQL(q string) ([]soqlToken, *restError) {
	var toks []soqlToken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			toks = append(toks, soqlToken{soqlNumber, q[i:j]})
			i = j
		case isWordByte(c):
			j := i + 1
			for j < len(q) && (isWordByte(q[j]) || q[j] == '.') {
				j++
			}
			toks = append(toks, soqlToken{soqlWord, q[i:j]})
			i = j
		case c == '\'':
			s, n, err := unquoteSOQL(q[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, soqlToken{soqlString, s})
			i += n
		case c == '"':
			return nil, malformedQuery(`string literals take single quotes: '…', with \' for a quote inside`)
		case c == ',':
			toks = append(toks, soqlToken{soqlComma, ","})
			i++
		case c == '=':
			toks = append(toks, soqlToken{soqlEquals, "="})
			i++
		default:
			n := 1
			if rest := q[i:]; strings.HasPrefix(rest, "!=") || strings.HasPrefix(rest, "<>") ||
				strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, ">=") {
				n = 2
			} else if c >= utf8.RuneSelf {
				_, n = utf8.DecodeRuneInString(rest)
			}
			toks = append(toks, soqlToken{soqlSymbol, q[i : i+n]})
			i += n
		}
	}
	return append(toks, soqlToken{kind: soqlEOF}), nil
}

// unquoteSOQL reads the string literal at the start of s (which begins with a quote) and
// returns its value and length. The escapes are SOQL's documented ones; "a backslash
// character in any other context" is an error, and \_ and \% belong to LIKE alone, which
// the subset does not have.
func unquoteSOQL(s string) (string, int, *restError) {
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		if c == '\'' {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		switch esc := s[i+1]; esc {
		case 'n', 'N':
			b.WriteByte('\n')
		case 'r', 'R':
			b.WriteByte('\r')
		case 't', 'T':
			b.WriteByte('\t')
		case 'b', 'B':
			b.WriteByte('\b')
		case 'f', 'F':
			b.WriteByte('\f')
		case '\'', '"', '\\':
			b.WriteByte(esc)
		case 'u':
			r, n, err := unicodeEscape(s[i:])
			if err != nil {
				return "", 0, err
			}
			b.WriteRune(r)
			i += n
			continue
		case '_', '%':
			return "", 0, malformedQuery(`invalid escape sequence \%c: it is valid only in a LIKE expression`, esc)
		default:
			return "", 0, malformedQuery(`invalid escape sequence \%c in a string literal; use \\ for a backslash`, esc)
		}
		i += 2
	}
	return "", 0, malformedQuery(`unterminated string literal: a quote inside a string must be written \'`)
}

// unicodeEscape reads \uXXXX at the start of s, and a second one when the first is the high
// half of a UTF-16 surrogate pair, as Java-style escapes spell characters beyond U+FFFF.
func unicodeEscape(s string) (rune, int, *restError) {
	hex4 := func(s string) (rune, bool) {
		if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(s)
	if !ok {
		return 0, 0, malformedQuery(`invalid escape sequence: \u takes four hexadecimal digits`)
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, nil
	}
	if low, ok := hex4(s[6:]); ok {
		if pair := utf16.DecodeRune(r, low); pair != utf8.RuneError {
			return pair, 12, nil
		}
	}
	return 0, 0, malformedQuery(`invalid escape sequence: \u%04X is half of a surrogate pair`, r)
}
