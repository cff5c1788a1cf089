package kubectlplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// maxAnswerBytes bounds what is read of a Salesforce answer; the limits resource is a few
// kilobytes.
const maxAnswerBytes = 1 << 20

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
}

func newTestCommand(env *Env) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test NAME",
		Short: "Call Salesforce with a connection's token and show the org's API version and limits",
		Long: "test reads the connection's token Secret, calls GET {instance_url}/services/data and\n" +
			"GET {instance_url}/services/data/vNN.N/limits with the token, and shows what Salesforce\n" +
			"answered. It needs get on the token Secret. The token is sent to the instance URL only\n" +
			"(https, or http to a loopback address) and is never printed.",
		Example: `  kubectl sfconn test crm -n billing`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), env, args[0])
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "Timeout of each call to Salesforce.")
	cmd.Flags().BoolVar(&o.allLimits, "all-limits", false, "Show every limit the org reports.")
	return cmd
}

// tokenRejectedError is Salesforce refusing the token (401 INVALID_SESSION_ID).
type tokenRejectedError struct {
	ns, name, detail string
}

func (e *tokenRejectedError) Error() string {
	return fmt.Sprintf("Salesforce rejected the token of %s/%s (%s); renew it with: kubectl sfconn renew %s -n %s --wait",
		e.ns, e.name, e.detail, e.name, e.ns)
}

func (o *testOptions) run(ctx context.Context, env *Env, name string) error {
	c, ns, err := env.clientAndNamespace()
	if err != nil {
		return err
	}
	conn, err := getConnection(ctx, c, ns, name)
	if err != nil {
		return err
	}
	if conn.Status.TokenSecretName == "" {
		msg := "the operator has not written a token yet"
		if ready := meta.FindStatusCondition(conn.Status.Conditions, sfv1.ConditionReady); ready != nil {
			msg = fmt.Sprintf("Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
		}
		return fmt.Errorf("%s/%s has no token to test (%s)", ns, name, msg)
	}
	var secret corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: conn.Status.TokenSecretName}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("the token Secret %s/%s of %s does not exist", ns, conn.Status.TokenSecretName, name)
		}
		return fmt.Errorf("reading the token Secret %s/%s: %w", ns, conn.Status.TokenSecretName, err)
	}
	token := string(secret.Data["access_token"])
	if token == "" {
		return fmt.Errorf("the token Secret %s/%s holds no access_token", ns, secret.Name)
	}
	instance := string(secret.Data["instance_url"])
	if instance == "" {
		instance = conn.Status.InstanceURL
	}
	base, err := instanceBase(instance)
	if err != nil {
		return err
	}
	sf := &restClient{
		base:  base,
		token: token,
		clock: env.Clock,
		http: &http.Client{
			Transport:     env.Transport,
			Timeout:       o.timeout,
			CheckRedirect: sameOriginRedirects,
		},
	}
	result, err := sf.probe(ctx)
	if err != nil {
		var rejected *tokenRejectedError
		if errors.As(err, &rejected) {
			rejected.ns, rejected.name = ns, name
		}
		return err
	}

	w := env.Streams.Out
	user := string(secret.Data["user_id"])
	if user == "" {
		user = conn.Status.UserID
	}
	if p := conn.Status.Principal; p != nil && p.Username != "" {
		user = fmt.Sprintf("%s (%s)", p.Username, user)
	}
	orgID := string(secret.Data["org_id"])
	if orgID == "" {
		orgID = conn.Status.OrgID
	}
	fmt.Fprintf(w, "Connection:    %s/%s (token Secret %s)\n", ns, name, secret.Name)
	fmt.Fprintf(w, "Instance URL:  %s\n", base)
	fmt.Fprintf(w, "Org ID:        %s\n", cell(orgID))
	fmt.Fprintf(w, "User:          %s\n", cell(user))
	latest := result.latest.Version
	if result.latest.Label != "" {
		latest += " (" + result.latest.Label + ")"
	}
	fmt.Fprintf(w, "API version:   %s, the latest of %d\n", latest, result.versions)
	fmt.Fprintf(w, "Round trip:    %s (GET /services/data)\n", result.roundTrip.Round(time.Millisecond))
	fmt.Fprintf(w, "Limits (v%s):\n", result.latest.Version)
	rows := limitRows(result.limits, o.allLimits)
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

// limitRows lists the useful limits the org reports (all of them with all), as NAME,
// REMAINING, MAX.
func limitRows(limits map[string]limit, all bool) [][]string {
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

// instanceBase checks the instance URL the token is about to be sent to: absolute, https
// (or http to a loopback address, as the emulator is), no user info, query or fragment.
func instanceBase(instance string) (string, error) {
	u, err := url.Parse(strings.TrimRight(instance, "/"))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the instance URL %q is not a valid https:// URL", instance)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("refusing to send the token over plain http to %s: the instance URL must be https", u.Host)
		}
	default:
		return "", fmt.Errorf("the instance URL %q is not a valid https:// URL", instance)
	}
	return u.String(), nil
}

// sameOriginRedirects follows a redirect only to the same scheme and host, where the token
// may go; any other is refused, so the token never leaves the instance.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return fmt.Errorf("refusing to follow a redirect to %s://%s: the token is sent to the instance URL only", req.URL.Scheme, req.URL.Host)
	}
	return nil
}

type apiVersion struct {
	Label   string `json:"label"`
	URL     string `json:"url"`
	Version string `json:"version"`
}

type limit struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

type probeResult struct {
	latest    apiVersion
	versions  int
	roundTrip time.Duration
	limits    map[string]limit
}

// restClient calls Salesforce's REST API with a bearer token.
type restClient struct {
	base  string
	token string
	clock clock.PassiveClock
	http  *http.Client
}

var versionPattern = regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`)

// probe reads the API versions, picks the latest and reads its limits.
func (r *restClient) probe(ctx context.Context) (*probeResult, error) {
	var versions []apiVersion
	start := r.clock.Now()
	if err := r.get(ctx, "/services/data", &versions); err != nil {
		return nil, err
	}
	res := &probeResult{roundTrip: r.clock.Since(start)}
	best := -1
	for i, v := range versions {
		if !versionPattern.MatchString(v.Version) {
			continue
		}
		res.versions++
		if best < 0 || versionLess(versions[best].Version, v.Version) {
			best = i
		}
	}
	if best < 0 {
		return nil, errors.New("no API version is listed at /services/data")
	}
	res.latest = versions[best]

	var raw map[string]json.RawMessage
	if err := r.get(ctx, "/services/data/v"+res.latest.Version+"/limits", &raw); err != nil {
		return nil, err
	}
	res.limits = map[string]limit{}
	for name, v := range raw {
		var l struct {
			Max       *int64 `json:"Max"`
			Remaining *int64 `json:"Remaining"`
		}
		if json.Unmarshal(v, &l) == nil && l.Max != nil && l.Remaining != nil {
			res.limits[name] = limit{Max: *l.Max, Remaining: *l.Remaining}
		}
	}
	return res, nil
}

// versionLess compares two "major.minor" versions numerically.
func versionLess(a, b string) bool {
	pa, pb := versionPattern.FindStringSubmatch(a), versionPattern.FindStringSubmatch(b)
	for i := 1; i <= 2; i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// get calls GET base+path with the token and decodes a 200 JSON answer into v. Errors never
// hold the token.
func (r *restClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling Salesforce: %s", r.redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("reading the answer of GET %s: %s", path, r.redact(err.Error()))
	}
	if resp.StatusCode != http.StatusOK {
		code, message := restError(body)
		detail := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if code != "" {
			detail += " " + code
		}
		if message != "" {
			detail += ": " + message
		}
		detail = r.redact(detail)
		if resp.StatusCode == http.StatusUnauthorized {
			return &tokenRejectedError{detail: detail}
		}
		return fmt.Errorf("GET %s: Salesforce answered %s", path, detail)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: Salesforce's answer is not the JSON expected: %w", path, err)
	}
	return nil
}

// redact removes the token from a text that may quote the request or the answer.
func (r *restClient) redact(s string) string {
	if r.token == "" {
		return s
	}
	return strings.ReplaceAll(s, r.token, "[redacted]")
}

// restError reads Salesforce's REST error answer, [{"message","errorCode"}], or the start
// of a body of another shape.
func restError(body []byte) (code, message string) {
	var errs []struct {
		Message   string `json:"message"`
		ErrorCode string `json:"errorCode"`
	}
	if json.Unmarshal(body, &errs) == nil && len(errs) > 0 {
		return errs[0].ErrorCode, errs[0].Message
	}
	return "", truncate(strings.Join(strings.Fields(string(body)), " "), 200)
}
