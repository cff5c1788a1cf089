package kubectlplugin

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestVersion checks that both spellings print the same line and that neither needs a
// cluster: NewClient fails the test if it is called.
func TestVersion(t *testing.T) {
	env := Env{NewClient: func() (client.Client, error) {
		t.Error("version must not connect to a cluster")
		return nil, errors.New("no cluster")
	}}
	sub := run(t, env, "version")
	flag := run(t, env, "--version")
	for _, r := range []result{sub, flag} {
		if r.err != nil {
			t.Fatalf("error: %v", r.err)
		}
		if !strings.HasPrefix(r.stdout, "kubectl-sfconn ") || !strings.Contains(r.stdout, "(commit ") {
			t.Errorf("stdout = %q, want the version line", r.stdout)
		}
	}
	if sub.stdout != flag.stdout {
		t.Errorf("version printed %q, --version printed %q", sub.stdout, flag.stdout)
	}
}
