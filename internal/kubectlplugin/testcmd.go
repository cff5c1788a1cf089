package kubectlplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// usefulLimits are shown, in this order, when the org reports them; --all-limits shows all.
var usefulLimits = []string{
	"DailyApiRequests",
	"DailyBulkApiBatches",
	"DailyBulkV2QueryJobs",
	"DailyAsyncApexExecutions",
	"DailyStreamingApiEvents",
	"HourlyPublishedPlatformEvents",
	"DataStorageMB",
	"FileStorageMB",
}

type testOptions struct {
	timeout   time.Duration
	allLimits bool
	source    tokenSource
}

func newTestCommand(env *Env) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test NAME | csfconn/NAME [--target-namespace NAMESPACE]",
		Short: "Call Salesforce with a connection's token and show the org's API version and limits",
		Long: "test reads the connection's token Secret, calls GET {instance_url}/services/data and\n" +
			"GET {instance_url}/services/data/vNN.N/limits with the token, and shows what Salesforce\n" +
			"answered. It needs get on the token Secret. The token is sent to the instance URL only\n" +
			"(https, or http to a loopback address) and is never printed.\n\n" +
			"For a ClusterSalesforceConnection (csfconn/NAME) it reads the operator's record of the\n" +
			"token in the cluster resource namespace (--cluster-resource-namespace), which only the\n" +
			"platform team may read; with --target-namespace, the token Secret the connection\n" +
			"delivered to that namespace instead, which its team may read.",
		Example: `  kubectl sfconn test crm -n billing
  kubectl sfconn test csfconn/crm
  kubectl sfconn test csfconn/crm --target-namespace billing`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), env, args[0])
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "Timeout of each call to Salesforce.")
	cmd.Flags().BoolVar(&o.allLimits, "all-limits", false, "Show every limit the org reports.")
	cmd.Flags().StringVar(&o.source.targetNamespace, "target-namespace", "",
		"For a ClusterSalesforceConnection: read the token Secret it delivered to this namespace, not its record in the cluster resource namespace.")
	addClusterResourceNamespaceFlag(cmd, &o.source.home)
	return cmd
}

// tokenRejectedError is Salesforce refusing the token (401 INVALID_SESSION_ID).
type tokenRejectedError struct {
	ref    connRef
	detail string
}

func (e *tokenRejectedError) Error() string {
	return fmt.Sprintf("Salesforce rejected the token of %s (%s); renew it with: kubectl sfconn renew %s --wait",
		e.ref, e.detail, e.ref.kubectlArgs())
}

func (o *testOptions) run(ctx context.Context, env *Env, arg string) error {
	c, ns, err := env.clientAndNamespace()
	if err != nil {
		return err
	}
	ref, err := parseRef(arg, ns)
	if err != nil {
		return err
	}
	if o.source.targetNamespace != "" && !ref.cluster {
		return fmt.Errorf("--target-namespace is for a ClusterSalesforceConnection (csfconn/NAME): %s has its token in its own namespace", ref)
	}
	t, err := getTarget(ctx, c, ref, o.source.home)
	if err != nil {
		return err
	}
	conn := t.conn
	if conn.Status.TokenSecretName == "" {
		msg := "the operator has not written a token yet"
		if ready := meta.FindStatusCondition(conn.Status.Conditions, sfv1.ConditionReady); ready != nil {
			msg = fmt.Sprintf("Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
		}
		return fmt.Errorf("%s has no token to test (%s)", ref, msg)
	}
	secret, secretName, err := o.source.read(ctx, c, t)
	if err != nil {
		return err
	}
	token := string(secret.Data[tokensecret.KeyAccessToken])
	if token == "" {
		return fmt.Errorf("the token Secret %s/%s holds no %s", secret.Namespace, secret.Name, tokensecret.KeyAccessToken)
	}
	instance := string(secret.Data[tokensecret.KeyInstanceURL])
	if instance == "" {
		instance = conn.Status.InstanceURL
	}

	// The operator's client: it checks the instance URL before the token leaves, never
	// follows a redirect, bounds the answers and never quotes an error body.
	sf := salesforce.NewClient(env.salesforceOptions(o.timeout)...)
	start := env.Clock.Now()
	versions, err := sf.RESTVersions(ctx, instance, token)
	if err != nil {
		return salesforceError(err, ref, "/services/data")
	}
	roundTrip := env.Clock.Since(start)
	// RESTVersions lists at least one version, oldest first.
	latest := versions[len(versions)-1]
	limits, err := sf.Limits(ctx, instance, token, latest.Version)
	if err != nil {
		return salesforceError(err, ref, "/services/data/v"+latest.Version+"/limits")
	}

	w := env.Streams.Out
	user := string(secret.Data[tokensecret.KeyUserID])
	if user == "" {
		user = conn.Status.UserID
	}
	if p := conn.Status.Principal; p != nil && p.Username != "" {
		user = fmt.Sprintf("%s (%s)", p.Username, user)
	}
	orgID := string(secret.Data[tokensecret.KeyOrgID])
	if orgID == "" {
		orgID = conn.Status.OrgID
	}
	fmt.Fprintf(w, "Connection:    %s (%s)\n", ref, secretName)
	// The client accepted it: a scheme and a host, with at most a trailing slash.
	fmt.Fprintf(w, "Instance URL:  %s\n", strings.TrimSuffix(instance, "/"))
	fmt.Fprintf(w, "Org ID:        %s\n", cell(orgID))
	fmt.Fprintf(w, "User:          %s\n", cell(user))
	label := latest.Version
	if latest.Label != "" {
		label += " (" + latest.Label + ")"
	}
	fmt.Fprintf(w, "API version:   %s, the latest of %d\n", label, len(versions))
	fmt.Fprintf(w, "Round trip:    %s (GET /services/data)\n", roundTrip.Round(time.Millisecond))
	fmt.Fprintf(w, "Limits (v%s):\n", latest.Version)
	rows := limitRows(limits, o.allLimits)
	if len(rows) == 0 {
		fmt.Fprintf(w, "  (none reported)\n")
	} else {
		var table bytes.Buffer
		if err := writeTable(&table, []string{"NAME", "REMAINING", "MAX"}, rows); err != nil {
			return err
		}
		for _, line := range strings.SplitAfter(table.String(), "\n") {
			if line != "" {
				fmt.Fprintf(w, "  %s", line)
			}
		}
	}
	fmt.Fprintf(w, "Salesforce accepted the token.\n")
	return nil
}

// userAgent tells the plugin's calls apart from the operator's in the org's API usage.
const userAgent = "kubectl-sfconn"

// salesforceOptions configures the Salesforce client: the Env's clock and transport (when a
// test sets one; else the client's own, which honours HTTPS_PROXY) and the --timeout of
// each call.
func (e *Env) salesforceOptions(timeout time.Duration) []salesforce.Option {
	opts := []salesforce.Option{
		salesforce.WithClock(e.Clock),
		salesforce.WithTimeout(timeout),
		salesforce.WithUserAgent(userAgent),
	}
	if e.Transport != nil {
		opts = append(opts, salesforce.WithHTTPClient(&http.Client{Transport: e.Transport}))
	}
	return opts
}

// salesforceError words a failed call for the person running the command. The client's
// errors hold neither the token nor Salesforce's messages (which could echo it), only the
// status, Salesforce's errorCode and the client's explanation.
func salesforceError(err error, ref connRef, path string) error {
	var e *salesforce.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("calling Salesforce: %w", err)
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		return &tokenRejectedError{ref: ref, detail: answerDetail(e)}
	case e.StatusCode == http.StatusOK:
		return fmt.Errorf("GET %s: Salesforce's answer is not the one expected: %s", path, explanation(e))
	case e.StatusCode != 0:
		return fmt.Errorf("GET %s: Salesforce answered %s", path, answerDetail(e))
	case e.Class == salesforce.Terminal:
		// Refused before anything was sent: the instance URL or the token.
		return fmt.Errorf("refusing to send the token: %s", explanation(e))
	default:
		return fmt.Errorf("calling Salesforce: %s", explanation(e))
	}
}

// answerDetail is "HTTP <status> [<errorCode>][: <explanation>]".
func answerDetail(e *salesforce.Error) string {
	d := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.Code != "" {
		d += " " + e.Code
	}
	if x := explanation(e); x != "" {
		d += ": " + x
	}
	return d
}

// explanation is the client's text of e without its "salesforce: " prefix, its errorCode
// or the status, which answerDetail shows already.
func explanation(e *salesforce.Error) string {
	var x string
	switch {
	case e.Description != "":
		x = e.Description
	case e.Code != "":
		return ""
	default:
		x = strings.TrimPrefix(e.Error(), "salesforce: ")
	}
	return strings.Replace(x, fmt.Sprintf(" (status %d)", e.StatusCode), "", 1)
}

// limitRows lists the useful limits the org reports (all of them with all), as NAME,
// REMAINING, MAX.
func limitRows(limits map[string]salesforce.Limit, all bool) [][]string {
	var names []string
	if all {
		for name := range limits {
			names = append(names, name)
		}
		slices.Sort(names)
	} else {
		for _, name := range usefulLimits {
			if _, ok := limits[name]; ok {
				names = append(names, name)
			}
		}
	}
	rows := make([][]string, 0, len(names))
	for _, name := range names {
		l := limits[name]
		rows = append(rows, []string{name, thousands(l.Remaining), thousands(l.Max)})
	}
	return rows
}
