package argocd

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestEnvironment: a script gets what Argo CD gives a script from argocd-cm, and no more.
func TestEnvironment(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"base library", `return {t = type(ipairs), s = tostring(2), n = tonumber("3")}`,
			map[string]any{"t": "function", "s": "2", "n": float64(3)}},
		{"table library", `local t = {"b", "a"}; table.sort(t); return {x = table.concat(t, ",")}`,
			map[string]any{"x": "a,b"}},
		{"no string library", `return {x = type(string)}`, map[string]any{"x": "nil"}},
		{"no math library", `return {x = type(math)}`, map[string]any{"x": "nil"}},
		{"no io library", `return {x = type(io)}`, map[string]any{"x": "nil"}},
		{"no debug library", `return {x = type(debug)}`, map[string]any{"x": "nil"}},
		{"no global os", `return {x = type(os)}`, map[string]any{"x": "nil"}},
		{"os by require: date and time only",
			`local os = require("os"); local names = {}; for k in pairs(os) do table.insert(names, k) end; table.sort(names); return names`,
			[]any{"date", "time"}},
		{"os.date in UTC", `local os = require("os"); return {x = os.date("!%Y-%m-%dT%H:%M:%SZ")}`,
			map[string]any{"x": "2026-11-25T09:00:00Z"}},
		{"os.date of a given time", `local os = require("os"); return {x = os.date("!%F %X", 0)}`,
			map[string]any{"x": "1970-01-01 00:00:00"}},
		{"os.date without %T, as in Argo CD", `local os = require("os"); return {x = os.date("!%T%%")}`,
			map[string]any{"x": "%T%"}},
		{"os.date table", `local os = require("os"); local t = os.date("!*t"); return {y = t.year, h = t.hour}`,
			map[string]any{"y": float64(2026), "h": float64(9)}},
		{"os.time", `local os = require("os"); return {x = os.time()}`, map[string]any{"x": float64(fixedNow.Unix())}},
		{"objects and 1-based arrays", `return {first = obj.list[1], n = #obj.list, nested = obj.m.k, missing = obj.nothing == nil}`,
			map[string]any{"first": "a", "n": float64(2), "nested": true, "missing": true}},
		{"empty table is an empty array", `return {x = {}}`, map[string]any{"x": []any{}}},
	}
	obj := map[string]any{"list": []any{"a", "b"}, "m": map[string]any{"k": true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := run(tt.src, obj, fixedNow)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestEnvironmentErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		err  string
	}{
		{"syntax error", `return {`, "syntax error"},
		{"string methods are absent", `return {x = ("a"):upper()}`, ""},
		{"require of another module", `local io = require("io"); return {}`, "module io not found"},
		{"no table returned", `return "Healthy"`, "expect table output from Lua script, not string"},
		{"nothing returned", `local x = 1`, "expect table output from Lua script"},
		{"mixed keys", `return {1, x = 2}`, "mixed or non-string keys"},
		{"a table that contains itself", `local t = {}; t.t = t; return t`, "nested too deeply"},
		{"a function returned", `return {f = print}`, "cannot convert a Lua function"},
		{"endless loop: Argo CD gives a script one second", `while true do end`, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := run(tt.src, map[string]any{}, time.Time{})
			g.Expect(err).To(MatchError(ContainSubstring(tt.err)))
		})
	}
}

func TestObjectMustBeJSON(t *testing.T) {
	g := NewWithT(t)
	_, err := Health(map[string]any{"f": func() {}})
	g.Expect(err).To(MatchError(ContainSubstring("the object is not JSON")))
}
