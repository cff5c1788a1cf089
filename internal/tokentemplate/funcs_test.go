package tokentemplate

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// lengthsMatch fails t when a length the functions compute before allocating differs from
// the length of what the library then returns.
func lengthsMatch(t *testing.T, s string) {
	t.Helper()
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonLen(s); got != int64(len(j)) {
		t.Errorf("jsonLen(%q) = %d, json.Marshal gives %d bytes", s, got, len(j))
	}
	if got, want := quotedLen(s), len(strconv.Quote(s)); got != int64(want) {
		t.Errorf("quotedLen(%q) = %d, strconv.Quote gives %d bytes", s, got, want)
	}
	if got, want := mappedLen(s, unicode.ToUpper), len(strings.ToUpper(s)); got != int64(want) {
		t.Errorf("upper length of %q = %d, strings.ToUpper gives %d bytes", s, got, want)
	}
	if got, want := mappedLen(s, unicode.ToLower), len(strings.ToLower(s)); got != int64(want) {
		t.Errorf("lower length of %q = %d, strings.ToLower gives %d bytes", s, got, want)
	}
}

func TestLengthsMatchTheLibrary(t *testing.T) {
	for _, s := range []string{
		"", "plain ASCII 123", "00D000000000001!AAAAAAAAAAAAA",
		"\"quote\" and \\backslash\\", "\b\f\n\r\t\v\a\x00\x1f\x7f",
		"<script>&amp;</script>", "\u2028\u2029\u2027\u202a",
		"\xff\xfe invalid \xc3 \xe2\x82 utf-8 \xed\xa0\x80",
		"\ufffd a valid replacement character",
		"ı İ ſ ẞ ß ǅ Ω K Å ɐ Ɐ ȿ Ȿ ⱥ ı", "日本語 😀 \U0010FFFF \u00ad \u200b \ufeff",
		"é" + strings.Repeat("\u0250", 100),
	} {
		lengthsMatch(t, s)
	}
}

func TestFunctionsComputeTheirLengthBeforeAllocating(t *testing.T) {
	b := &budget{left: MaxFuncBytes}
	big := strings.Repeat("a", MaxKeyBytes/2)
	// Each call is refused without making its result: a result of 2^36 bytes would not be
	// made in time, nor fit in memory.
	for name, call := range map[string]func() (string, error){
		"replace": func() (string, error) { return b.replace("", big, big) },
		"b64enc":  func() (string, error) { return b.b64enc(big + big + "a") },
		"quote":   func() (string, error) { return b.quote(strings.Repeat("\x00", MaxKeyBytes/4)) },
		"json":    func() (string, error) { return b.json(strings.Repeat("<", MaxKeyBytes/6+1)) },
		"upper":   func() (string, error) { return b.upper(strings.Repeat("\xff", MaxKeyBytes/3+1)) },
		"lower":   func() (string, error) { return b.lower(strings.Repeat("\u023a", MaxKeyBytes/3+1)) }, // Ⱥ (2 bytes) → ⱥ (3)
	} {
		out, err := call()
		if err == nil || out != "" || !strings.Contains(err.Error(), "the result of "+name+" would be longer than 65536 bytes") {
			t.Errorf("%s = %d bytes, %v", name, len(out), err)
		}
	}
	if b.left != MaxFuncBytes {
		t.Errorf("refused calls spent %d bytes of the budget", MaxFuncBytes-b.left)
	}
	if _, err := b.json(struct{}{}); err == nil || err.Error() != "json takes a string or a number, not struct {}" {
		t.Errorf("json(struct{}{}) = %v", err)
	}
}

// TestFunctionList: the functions the grammar allows are those the template runs with,
// with the arguments their usage says.
func TestFunctionList(t *testing.T) {
	funcs := (&budget{}).funcs()
	if len(funcs) != len(funcNames) || len(usage) != len(funcNames) {
		t.Fatalf("%d functions, %d names, %d usages", len(funcs), len(funcNames), len(usage))
	}
	for _, name := range funcNames {
		fn, ok := funcs[name]
		if !ok {
			t.Fatalf("%s is allowed but not defined", name)
		}
		words := strings.Fields(usage[name])
		if typ := reflect.TypeOf(fn); words[0] != name || typ.NumIn() != len(words)-1 || typ.NumOut() != 2 {
			t.Errorf("%s is %v, its usage %q", name, typ, usage[name])
		}
	}
}
