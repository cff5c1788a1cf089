package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/sfconn/sfconn-operator/internal/metrics"
)

// scrape reads the manager's metrics endpoint.
func scrape(p *process) string {
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(body)
}

// sfconnSeries keeps the sfconn_ series of one namespace, and sfconn_leader, of a scrape:
// what a failed expectation shows.
func sfconnSeries(text, ns string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, metrics.Leader+" ") || (strings.HasPrefix(l, "sfconn_") && strings.Contains(l, `namespace="`+ns+`"`)) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var _ = Describe("metrics", Ordered, func() {
	It("serves every sfconn metric for running connections, with no secret in them", func() {
		ns := newNamespace()
		refreshToken := issueRefreshToken(creds.refreshUser)
		apply(ns, sample("salesforce_v1alpha1_salesforceconnection_refreshtoken.yaml", map[string]string{
			"refresh_token": refreshToken, "username": "unused"}))
		kubectl("wait", "--for=condition=Ready", "sfconn/crm-refresh", "-n", ns, "--timeout=60s")

		series := func(name string) *regexp.Regexp {
			return regexp.MustCompile(`(?m)^` + name + `\{[^}]*namespace="` + ns + `"[^}]*\} `)
		}
		Eventually(func(g Gomega) {
			text := scrape(manager)
			// A healthy refresh-token connection: its expiry and approvals, no not-ready
			// series (Ready is True) and no condition series (only True ones are reported).
			for _, name := range []string{metrics.TokenExpiration, metrics.Approvals} {
				g.Expect(series(name).MatchString(text)).To(BeTrue(), "no %s series for namespace %s", name, ns)
			}
			g.Expect(text).To(MatchRegexp(`(?m)^` + metrics.TokenExpiration + `\{kind="SalesforceConnection",name="crm-refresh",namespace="` + ns + `"\} [1-9]`))
			// Nothing else, bar ApprovalLimit, which other tests' approvals of the same user
			// may raise.
			for _, l := range strings.Split(sfconnSeries(text, ns), "\n") {
				name, _, _ := strings.Cut(l, "{")
				g.Expect([]string{metrics.Leader + " 1", metrics.TokenExpiration, metrics.Approvals,
					metrics.ConditionStatus}).To(ContainElement(name), "an unexpected series: %s", l)
				if name == metrics.ConditionStatus {
					g.Expect(l).To(ContainSubstring(`type="ApprovalLimit"`))
				}
			}
			g.Expect(text).To(MatchRegexp(`(?m)^` + metrics.Leader + ` 1$`))
			g.Expect(text).To(MatchRegexp(`(?m)^` + metrics.RequestsTotal + `\{grant="refresh_token",result="success"\} [1-9]`))
			g.Expect(text).To(MatchRegexp(`(?m)^` + metrics.RequestDuration + `_count\{grant="refresh_token"\} [1-9]`))
			for _, s := range secretValues() {
				g.Expect(strings.Contains(text, s)).To(BeFalse(), "a secret value appears in /metrics")
			}
		}).Should(Succeed())

		By("dropping the series of a deleted connection")
		kubectl("delete", "sfconn/crm-refresh", "-n", ns, "--wait=true")
		Eventually(func() bool { return series(metrics.TokenExpiration).MatchString(scrape(manager)) }).Should(BeFalse())
	})
})
