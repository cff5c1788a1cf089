// Package argocd runs the Argo CD health check and resource actions of a
// SalesforceConnection, the Lua scripts in
// config/argocd/salesforce.sfconn.io/SalesforceConnection, the way Argo CD runs a script
// from its argocd-cm ConfigMap:
//
//   - with gopher-lua, the interpreter Argo CD uses;
//   - with only the package, base and table libraries, and an os module limited to date
//     and time that a script gets with require("os"). The string, math, io and debug
//     libraries and the global os are absent, as in Argo CD when
//     resource.customizations.useOpenLibs is not set, so a script that works here needs
//     nothing Argo CD does not give it;
//   - with the object in the global obj: JSON objects become tables with string keys,
//     arrays become tables indexed from 1, numbers become Lua numbers;
//   - with the table the script returns converted back to JSON the way Argo CD does: a
//     table indexed 1..n becomes an array, an empty table becomes an empty array unless the
//     input held an object at that place.
//
// Tests call it with objects built from the Go types, and e2e tests with live objects
// read with kubectl get -o json. The scripts are read from the source tree on each call:
// the package finds the module root by walking up from the working directory (go test
// runs in the package's directory).
package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

//go:generate go test -run TestConfigMapMatchesScripts -update

// Health statuses a script may return (Argo CD's health codes).
const (
	Healthy     = "Healthy"
	Progressing = "Progressing"
	Degraded    = "Degraded"
	Suspended   = "Suspended"
	Missing     = "Missing"
	Unknown     = "Unknown"
)

// ActionRenew is the name of the action that asks the operator to renew the token.
const ActionRenew = "renew"

// scriptDir is the directory of the scripts, relative to the module root, in Argo CD's
// resource_customizations layout (group/Kind).
const scriptDir = "config/argocd/salesforce.sfconn.io/SalesforceConnection"

// Script paths relative to scriptDir.
const (
	healthScript    = "health.lua"
	discoveryScript = "actions/discovery.lua"
	renewScript     = "actions/renew/action.lua"
)

// Status is a health assessment, as Argo CD shows it for a resource.
type Status struct {
	// Status is one of Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
	Status string `json:"status"`
	// Message explains the status.
	Message string `json:"message,omitempty"`
}

// Action is an action the discovery script offers for an object.
type Action struct {
	// Name of the action, such as renew.
	Name string
	// Disabled actions are listed but cannot be run.
	Disabled bool
}

// Health runs health.lua on obj, a SalesforceConnection as JSON decodes it (for example
// from kubectl get -o json). Like Argo CD, a status that is not a health code gives
// Unknown. An error means the script failed or did not return a table.
func Health(obj map[string]any) (Status, error) {
	out, err := runScript(healthScript, obj, time.Time{})
	if err != nil {
		return Status{}, err
	}
	return healthStatus(out)
}

// healthStatus reads what a health script returned.
func healthStatus(out any) (Status, error) {
	m, ok := out.(map[string]any)
	if !ok {
		return Status{}, fmt.Errorf("%s returned %s, not a table with status and message", healthScript, describeJSON(out))
	}
	var st Status
	if err := remarshal(m, &st); err != nil {
		return Status{}, fmt.Errorf("%s returned %v: %w", healthScript, m, err)
	}
	switch st.Status {
	case Healthy, Progressing, Degraded, Suspended, Missing, Unknown:
		return st, nil
	}
	return Status{Status: Unknown, Message: "Lua returned an invalid health status"}, nil
}

// Actions runs discovery.lua on obj and returns the actions it offers, sorted by name.
func Actions(obj map[string]any) ([]Action, error) {
	out, err := runScript(discoveryScript, obj, time.Time{})
	if err != nil {
		return nil, err
	}
	var actions []Action
	switch v := out.(type) {
	case []any:
		if len(v) != 0 {
			return nil, fmt.Errorf("%s returned an array, not a table of actions by name", discoveryScript)
		}
	case map[string]any:
		for name, def := range v {
			a := Action{Name: name}
			if d, ok := def.(map[string]any); ok {
				a.Disabled, _ = d["disabled"].(bool)
			}
			actions = append(actions, a)
		}
	default:
		return nil, fmt.Errorf("%s returned %s, not a table", discoveryScript, describeJSON(out))
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return actions, nil
}

// Renew runs the renew action on obj and returns the object the action returns, which
// Argo CD would patch the live object to. now is what os.date and os.time see; the zero
// time means the current time. obj itself is not modified.
func Renew(obj map[string]any, now time.Time) (map[string]any, error) {
	out, err := runScript(renewScript, obj, now)
	if err != nil {
		return nil, err
	}
	m, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s returned %s, not an object", renewScript, describeJSON(out))
	}
	in, err := normalize(obj)
	if err != nil {
		return nil, err
	}
	restoreEmptyObjects(m, in)
	return m, nil
}

// readScript returns the text of a script, a path relative to scriptDir.
func readScript(name string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(scriptDir), filepath.FromSlash(name)))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// moduleRoot returns the directory of the sfconn module: the nearest directory holding
// go.mod and scriptDir, looked for from the working directory upwards, else from this
// source file's directory.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the module root: no directory above the working directory holds go.mod and " + scriptDir)
}

func isRoot(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(scriptDir)))
	return err == nil && fi.IsDir()
}

// runScript runs a script on obj and returns its result as JSON values.
func runScript(name string, obj map[string]any, now time.Time) (any, error) {
	src, err := readScript(name)
	if err != nil {
		return nil, err
	}
	out, err := run(src, obj, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// run runs Lua source in Argo CD's environment with obj in the global obj, and returns
// the table it returns converted to JSON values (map[string]any, []any, string, float64,
// bool, nil). now is what os.date and os.time see; the zero time means the current time.
// A script that does not return a table is an error, as in Argo CD.
func run(src string, obj map[string]any, now time.Time) (any, error) {
	in, err := normalize(obj)
	if err != nil {
		return nil, err
	}
	l := newState(now)
	defer l.Close()
	// Argo CD gives a script one second.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, in))
	if err := l.DoString(src); err != nil {
		return nil, err
	}
	ret := l.Get(-1)
	t, ok := ret.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	return fromLua(t, 0)
}

// newState opens what Argo CD opens for a script from argocd-cm.
func newState(now time.Time) *lua.LState {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	// require may load only preloaded modules, not files.
	if pkg, ok := l.GetGlobal(lua.LoadLibName).(*lua.LTable); ok {
		pkg.RawSetString("path", lua.LString(""))
	}
	clock := safeOS{now: now}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{"date": clock.date, "time": clock.time}))
		return 1
	})
	return l
}

// normalize makes a deep copy of obj made only of JSON values.
func normalize(obj map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if obj == nil {
		return out, nil
	}
	if err := remarshal(obj, &out); err != nil {
		return nil, fmt.Errorf("the object is not JSON: %w", err)
	}
	return out, nil
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// toLua converts a JSON value to Lua: objects to tables with string keys, arrays to
// tables indexed from 1.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}

// maxDepth stops a table that contains itself.
const maxDepth = 100

// fromLua converts a Lua value to JSON: a table with keys 1..n to an array, a table with
// string keys to an object, an empty table to an empty array.
func fromLua(v lua.LValue, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("the returned table is nested too deeply (does it contain itself?)")
	}
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		return tableFromLua(v, depth)
	default:
		return nil, fmt.Errorf("cannot convert a Lua %s to JSON", v.Type())
	}
}

func tableFromLua(t *lua.LTable, depth int) (any, error) {
	n := t.MaxN()
	var keys int
	var bad error
	allStrings := true
	t.ForEach(func(k, _ lua.LValue) {
		keys++
		if _, ok := k.(lua.LString); !ok {
			allStrings = false
		}
	})
	switch {
	case keys == 0:
		return []any{}, nil
	case n > 0 && keys == n:
		arr := make([]any, 0, n)
		for i := 1; i <= n; i++ {
			e, err := fromLua(t.RawGetInt(i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, e)
		}
		return arr, nil
	case !allStrings:
		return nil, errors.New("cannot convert a Lua table with mixed or non-string keys to JSON")
	}
	obj := make(map[string]any, keys)
	t.ForEach(func(k, e lua.LValue) {
		if bad != nil {
			return
		}
		var err error
		obj[string(k.(lua.LString))], err = fromLua(e, depth+1)
		bad = err
	})
	if bad != nil {
		return nil, bad
	}
	return obj, nil
}

// restoreEmptyObjects undoes what converting Lua to JSON does to an empty object: it
// becomes an empty array. Where the input held an object, the output gets an object back.
func restoreEmptyObjects(out, in map[string]any) {
	for k, o := range out {
		i, ok := in[k]
		if !ok {
			continue
		}
		switch o := o.(type) {
		case []any:
			switch i := i.(type) {
			case map[string]any:
				if len(o) == 0 {
					out[k] = i
				}
			case []any:
				restoreEmptyObjectsIn(o, i)
			}
		case map[string]any:
			if i, ok := i.(map[string]any); ok {
				restoreEmptyObjects(o, i)
			}
		}
	}
}

func restoreEmptyObjectsIn(out, in []any) {
	for n := range out {
		if n >= len(in) {
			return
		}
		switch o := out[n].(type) {
		case []any:
			if i, ok := in[n].(map[string]any); ok && len(o) == 0 {
				out[n] = i
			} else if i, ok := in[n].([]any); ok {
				restoreEmptyObjectsIn(o, i)
			}
		case map[string]any:
			if i, ok := in[n].(map[string]any); ok {
				restoreEmptyObjects(o, i)
			}
		}
	}
}

func describeJSON(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// safeOS is the os module Argo CD gives a script: date and time only, here on a clock
// that tests can fix.
type safeOS struct{ now time.Time }

func (s safeOS) clock() time.Time {
	if s.now.IsZero() {
		return time.Now()
	}
	return s.now
}

// date is os.date([format [, time]]): "!" at the start of format means UTC, "*t" a
// table; else the strftime conversions Argo CD knows.
func (s safeOS) date(l *lua.LState) int {
	format := l.OptString(1, "%c")
	t := s.clock().Local()
	if l.GetTop() >= 2 {
		t = time.Unix(l.CheckInt64(2), 0)
	}
	if rest, ok := strings.CutPrefix(format, "!"); ok {
		format, t = rest, t.UTC()
	}
	if strings.HasPrefix(format, "*t") {
		tbl := l.NewTable()
		for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(),
			"min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": t.YearDay()} {
			tbl.RawSetString(k, lua.LNumber(v))
		}
		tbl.RawSetString("isdst", lua.LFalse)
		l.Push(tbl)
		return 1
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

// time is os.time([table]): now, or the local time a table describes, in seconds since
// the epoch.
func (s safeOS) time(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(s.clock().Unix()))
		return 1
	}
	tbl := l.CheckTable(1)
	field := func(name string, def int) int {
		if n, ok := tbl.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	t := time.Date(field("year", 1970), time.Month(field("month", 1)), field("day", 1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

// strftimeLayouts are the conversions Argo CD's os.date supports, as Go layouts. Others
// are copied as they are, so a script must not rely on them.
var strftimeLayouts = map[byte]string{
	'a': "Mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST",
	'd': "02", 'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM",
	'P': "pm", 'S': "05", 'x': "15/04/05", 'X': "15:04:05", 'y': "06", 'Y': "2006",
	'z': "-0700", 'Z': "MST",
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i == len(format)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch conv := format[i]; {
		case conv == '%':
			b.WriteByte('%')
		case conv == 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case strftimeLayouts[conv] != "":
			b.WriteString(t.Format(strftimeLayouts[conv]))
		default:
			b.WriteByte('%')
			b.WriteByte(conv)
		}
	}
	return b.String()
}
