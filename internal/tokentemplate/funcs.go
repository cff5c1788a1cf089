package tokentemplate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// budget is what the functions of one Check or Render may still read and return, in
// bytes, over all keys. Every function computes the length of its result before making it,
// and refuses when the result would not fit in a key or in what is left of the budget: no
// template makes the operator allocate more than a small multiple of the caps.
type budget struct {
	left int
}

// spend charges a call to fn that reads in bytes and returns out bytes.
func (b *budget) spend(fn string, in, out int64) error {
	if out > MaxKeyBytes {
		return &LimitError{fmt.Sprintf("the result of %s would be longer than %d bytes, the most a key may hold", fn, MaxKeyBytes)}
	}
	if in+out > int64(b.left) {
		return &LimitError{fmt.Sprintf("the functions would read and return more than %d bytes in all, the most a template may use", MaxFuncBytes)}
	}
	b.left -= int(in + out)
	return nil
}

func (b *budget) funcs() template.FuncMap {
	return template.FuncMap{
		"json":       b.json,
		"quote":      b.quote,
		"upper":      b.upper,
		"lower":      b.lower,
		"trimPrefix": b.trimPrefix,
		"trimSuffix": b.trimSuffix,
		"replace":    b.replace,
		"b64enc":     b.b64enc,
	}
}

// json is a string as a JSON string (with encoding/json's escapes, HTML characters
// included), or a number as a JSON number.
func (b *budget) json(v any) (string, error) {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String:
		s := rv.String()
		if err := b.spend("json", int64(len(s)), jsonLen(s)); err != nil {
			return "", err
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		// At most 24 bytes (-1.2345678901234567e-308).
		if err := b.spend("json", 0, 32); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("json takes a string or a number, not %T", v)
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func (b *budget) quote(s string) (string, error) {
	if err := b.spend("quote", int64(len(s)), quotedLen(s)); err != nil {
		return "", err
	}
	return strconv.Quote(s), nil
}

func (b *budget) upper(s string) (string, error) {
	if err := b.spend("upper", int64(len(s)), mappedLen(s, unicode.ToUpper)); err != nil {
		return "", err
	}
	return strings.ToUpper(s), nil
}

func (b *budget) lower(s string) (string, error) {
	if err := b.spend("lower", int64(len(s)), mappedLen(s, unicode.ToLower)); err != nil {
		return "", err
	}
	return strings.ToLower(s), nil
}

// trimPrefix and trimSuffix return a part of s: nothing is allocated, but the call is
// charged as if it were, which keeps the rule simple.
func (b *budget) trimPrefix(prefix, s string) (string, error) {
	out := strings.TrimPrefix(s, prefix)
	if err := b.spend("trimPrefix", int64(len(prefix)+len(s)), int64(len(out))); err != nil {
		return "", err
	}
	return out, nil
}

func (b *budget) trimSuffix(suffix, s string) (string, error) {
	out := strings.TrimSuffix(s, suffix)
	if err := b.spend("trimSuffix", int64(len(suffix)+len(s)), int64(len(out))); err != nil {
		return "", err
	}
	return out, nil
}

// replace replaces every old in s with replacement. An empty old matches at the start
// and after each UTF-8 sequence, as in strings.ReplaceAll.
func (b *budget) replace(old, replacement, s string) (string, error) {
	n := int64(strings.Count(s, old))
	out := int64(len(s)) + n*(int64(len(replacement))-int64(len(old)))
	if err := b.spend("replace", int64(len(old)+len(replacement)+len(s)), out); err != nil {
		return "", err
	}
	return strings.ReplaceAll(s, old, replacement), nil
}

func (b *budget) b64enc(s string) (string, error) {
	if err := b.spend("b64enc", int64(len(s)), int64(base64.StdEncoding.EncodedLen(len(s)))); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// jsonLen is len(json.Marshal(s)): encoding/json escapes ", \ and the control characters
// (\b, \f, \n, \r and \t short, the others as \u00XX), <, > and & as \u00XX, U+2028 and
// U+2029 as \u202X, and writes each invalid UTF-8 byte as \ufffd.
func jsonLen(s string) int64 {
	n := int64(2)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += int64(size)
		}
		i += size
	}
	return n
}

// quotedLen is len(strconv.Quote(s)). strconv quotes each UTF-8 sequence (or invalid
// byte) on its own, so quoting them one at a time into a small buffer adds up to the same.
func quotedLen(s string) int64 {
	n := int64(2)
	var scratch [16]byte
	for i := 0; i < len(s); {
		size := 1
		if c := s[i]; c >= utf8.RuneSelf {
			_, size = utf8.DecodeRuneInString(s[i:])
		} else if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			n++
			i++
			continue
		}
		n += int64(len(strconv.AppendQuote(scratch[:0], s[i:i+size])) - 2)
		i += size
	}
	return n
}

// mappedLen is len(strings.Map(f, s)) for a mapping that drops nothing, such as
// unicode.ToUpper: strings.ToUpper and ToLower write each rune mapped, and each invalid
// byte as U+FFFD (3 bytes).
func mappedLen(s string, f func(rune) rune) int64 {
	n := int64(0)
	for _, c := range s {
		l := utf8.RuneLen(f(c))
		if l < 0 {
			l = utf8.RuneLen(utf8.RuneError)
		}
		n += int64(l)
	}
	return n
}
