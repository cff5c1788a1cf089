package install

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestGoMemLimitFollowsTheMemoryLimit checks that every way to install sets GOMEMLIMIT to
// about 90% of the manager's memory limit: a limit changed without its GOMEMLIMIT (in
// config/manager, or by a chart value) fails here, before a manager would collect garbage
// against a limit it no longer has.
func TestGoMemLimitFollowsTheMemoryLimit(t *testing.T) {
	installs := map[string]func(t *testing.T) *unstructured.Unstructured{
		"config/default": func(t *testing.T) *unstructured.Unstructured {
			return only(t, kustomize(t, "config/default"), "Deployment")
		},
		"dist/install.yaml": func(t *testing.T) *unstructured.Unstructured {
			objs, err := parseObjects(readRepoFile(t, "dist/install.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			return only(t, objs, "Deployment")
		},
		"the chart's defaults": func(t *testing.T) *unstructured.Unstructured {
			return only(t, render(t, "sfconn-operator", "sfconn-system"), "Deployment")
		},
	}
	for _, limit := range []string{"64Mi", "300Mi", "1Gi", "1.5Gi", "500M", "2G", "700000Ki", "268435456"} {
		installs["the chart with a limit of "+limit] = func(t *testing.T) *unstructured.Unstructured {
			return only(t, render(t, "sfconn-operator", "sfconn-system", "--set-json", `resources.limits.memory="`+limit+`"`), "Deployment")
		}
	}
	installs["the chart with a limit of 268435456 as a number"] = func(t *testing.T) *unstructured.Unstructured {
		return only(t, render(t, "sfconn-operator", "sfconn-system", "--set-json", "resources.limits.memory=268435456"), "Deployment")
	}
	for name, deploy := range installs {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			d := deploy(t)
			limit := memoryLimit(t, d)
			soft, ok := goMemLimit(t, d)
			g.Expect(ok).To(BeTrue(), "no GOMEMLIMIT")
			ratio := float64(soft) / float64(limit)
			// Whole MiB, rounded down: 90% less under a MiB, which is under 1% from 64Mi up.
			g.Expect(ratio).To(And(BeNumerically(">", 0.89), BeNumerically("<=", 0.9)),
				"GOMEMLIMIT %d bytes for a limit of %d bytes", soft, limit)
		})
	}
}

func TestChartGoMemLimitOptions(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string // the GOMEMLIMIT; empty: none
	}{
		"a value of its own":                {[]string{"--set", "goMemLimit=400MiB"}, "400MiB"},
		"empty: none, the manager's cgroup": {[]string{"--set", "goMemLimit="}, ""},
		"auto without a memory limit":       {[]string{"--set", "resources.limits.memory=null"}, ""},
		"auto without any resources":        {[]string{"--set", "resources=null"}, ""},
		"extraEnv wins":                     {[]string{"--set-json", `extraEnv=[{"name":"HTTPS_PROXY","value":"http://proxy:3128"},{"name":"GOMEMLIMIT","value":"1GiB"}]`}, "1GiB"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			objs := render(t, "sfconn-operator", "sfconn-system", tc.args...)
			deploy := only(t, objs, "Deployment")
			got, ok := "", false
			env, _ := managerContainer(t, deploy)["env"].([]any)
			var names []string
			for _, e := range env {
				m := e.(map[string]any)
				names = append(names, m["name"].(string))
				if m["name"] == "GOMEMLIMIT" {
					got, ok = m["value"].(string), true
				}
			}
			g.Expect(got).To(Equal(tc.want))
			g.Expect(ok).To(Equal(tc.want != ""))
			g.Expect(names).To(HaveLen(len(uniq(names))), "a variable named twice")
			checkWiring(t, objs)
		})
	}
	t.Run("a limit auto cannot read", func(t *testing.T) {
		out, err := helm(t, "template", "x", chartDir, "--set", "resources.limits.memory=1e9")
		if err == nil || !strings.Contains(err.Error(), "set goMemLimit") {
			t.Fatalf("want an error that says to set goMemLimit, got %v:\n%s", err, out)
		}
	})
	t.Run("a value Go does not read", func(t *testing.T) {
		out, err := helm(t, "template", "x", chartDir, "--set", "goMemLimit=lots")
		if err == nil || !strings.Contains(err.Error(), "/goMemLimit") {
			t.Fatalf("want a schema error for goMemLimit, got %v:\n%s", err, out)
		}
	})
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// memoryLimit is the manager container's memory limit in bytes.
func memoryLimit(t *testing.T, deploy *unstructured.Unstructured) int64 {
	t.Helper()
	res, _ := managerContainer(t, deploy)["resources"].(map[string]any)
	limits, _ := res["limits"].(map[string]any)
	raw, ok := limits["memory"]
	if !ok {
		t.Fatalf("Deployment %s: no memory limit", deploy.GetName())
	}
	var s string
	switch v := raw.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		t.Fatalf("memory limit %v of type %T", raw, raw)
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return q.Value()
}

// goMemLimitValue is the form of GOMEMLIMIT the Go runtime reads.
var goMemLimitValue = regexp.MustCompile(`^([0-9]+)(B|KiB|MiB|GiB|TiB)?$`)

// goMemLimit is the manager container's GOMEMLIMIT in bytes, and whether it has one.
func goMemLimit(t *testing.T, deploy *unstructured.Unstructured) (int64, bool) {
	t.Helper()
	env, _ := managerContainer(t, deploy)["env"].([]any)
	for _, e := range env {
		m, _ := e.(map[string]any)
		if m["name"] != "GOMEMLIMIT" {
			continue
		}
		s, _ := m["value"].(string)
		parts := goMemLimitValue.FindStringSubmatch(s)
		if parts == nil {
			t.Fatalf("GOMEMLIMIT %q is not a value the Go runtime reads", s)
		}
		n, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[parts[2]]
		return n << shift, true
	}
	return 0, false
}
