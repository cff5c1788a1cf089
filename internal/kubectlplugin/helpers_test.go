package kubectlplugin

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// fakeCluster is a fake API server holding objs, with the status subresource of
// SalesforceConnections and ClusterSalesforceConnections; funcs intercept calls.
func fakeCluster(funcs interceptor.Funcs, objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().
		WithScheme(Scheme()).
		WithObjects(objs...).
		WithStatusSubresource(&sfv1.SalesforceConnection{}, &sfv1.ClusterSalesforceConnection{}).
		WithInterceptorFuncs(funcs).
		Build()
}

// testEnv runs the commands against c with clk; run adds kubectl's flags.
func testEnv(c client.Client, clk clock.Clock) Env {
	return Env{NewClient: func() (client.Client, error) { return c, nil }, Clock: clk}
}

type result struct {
	stdout, stderr string
	err            error
}

// all is everything the command said, for checks that no secret shows anywhere.
func (r result) all() string {
	s := r.stdout + r.stderr
	if r.err != nil {
		s += r.err.Error()
	}
	return s
}

func run(t *testing.T, env Env, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	env.Streams = genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	// Fresh flags each run: -n picks the namespace, "billing" by default.
	flags := genericclioptions.NewConfigFlags(false)
	env.ConfigFlags = flags
	env.Namespace = func() (string, error) {
		if *flags.Namespace != "" {
			return *flags.Namespace, nil
		}
		return "billing", nil
	}
	cmd := NewCommand(env)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}
