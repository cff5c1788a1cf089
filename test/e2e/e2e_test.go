package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/metrics"
)

// sample reads a file of config/samples and puts the emulator's URL and credentials in
// place of its placeholders, so the samples users copy are the ones tested.
func sample(file string, replace map[string]string) string {
	raw, err := os.ReadFile(filepath.Join(root, "config", "samples", file))
	Expect(err).NotTo(HaveOccurred())
	text := regexp.MustCompile(`(?m)^(\s*)loginURL: .*$`).ReplaceAllString(string(raw), "${1}loginURL: "+emulatorURL)
	pemJSON, _ := json.Marshal(creds.privateKeyPEM)
	for placeholder, value := range map[string]string{
		`"3MVG9-your-consumer-key"`:        `"` + creds.clientID + `"`,
		`"your-consumer-secret"`:           `"` + creds.clientSecret + `"`,
		`"your-salesforce-password"`:       `"` + creds.password + `"`,
		`"your-security-token"`:            `"` + creds.securityToken + `"`,
		`"paste-your-rsa-private-key-pem"`: string(pemJSON),
		`"your-refresh-token"`:             `"` + replace["refresh_token"] + `"`,
		`"integration-user@example.com"`:   `"` + replace["username"] + `"`,
	} {
		text = strings.ReplaceAll(text, placeholder, value)
	}
	Expect(text).NotTo(MatchRegexp(`"(your-|paste-|3MVG9-your)`), "%s has a placeholder the e2e test does not know", file)
	for old, new := range replace {
		if strings.Contains(old, ":") {
			text = strings.ReplaceAll(text, old, new)
		}
	}
	return text
}

// shortCredentials is the credentials Secret of the app whose sessions last a minute.
func shortCredentials() string {
	return `
apiVersion: v1
kind: Secret
metadata: {name: short-credentials}
stringData: {client_id: "` + creds.shortClientID + `", client_secret: "` + creds.clientSecret + `"}`
}

func apply(ns, manifest string) {
	out, err := kubectlWithInput(manifest, "apply", "-n", ns, "-f", "-")
	Expect(err).NotTo(HaveOccurred(), out)
}

var _ = Describe("sfconn operator", Ordered, func() {
	var ns string
	BeforeAll(func() { ns = newNamespace() })

	It("brings every sample in config/samples to Ready against the emulator", func() {
		refreshToken := issueRefreshToken(creds.refreshUser)
		apply(ns, sample("salesforce_v1alpha1_salesforceconnection_jwtbearer.yaml", map[string]string{"username": creds.jwtUser}))
		apply(ns, sample("salesforce_v1alpha1_salesforceconnection_password.yaml", map[string]string{
			"username": creds.passwordUser, "sessionTimeout: 2h": "sessionTimeout: 1m"}))
		apply(ns, sample("salesforce_v1alpha1_salesforceconnection_refreshtoken.yaml", map[string]string{
			"refresh_token": refreshToken, "username": "unused"}))
		apply(ns, sample("salesforce_v1alpha1_salesforceconnection_clientcredentials.yaml", map[string]string{"username": "unused"}))

		for _, name := range []string{"crm-jwt", "crm-password", "crm-refresh", "crm-client-credentials"} {
			kubectl("wait", "--for=condition=Ready", "sfconn/"+name, "-n", ns, "--timeout=60s")
			Expect(readyReason(ns, name)()).To(Equal("True/TokenIssued"), name)
			data := secretData(ns, name+"-token")
			for _, key := range []string{"access_token", "instance_url", "token_type", "issued_at", "expires_at", "id", "org_id", "user_id"} {
				Expect(data).To(HaveKeyWithValue(key, Not(BeEmpty())), "%s: key %s", name, key)
			}
			Expect(data).NotTo(HaveKey("refresh_token"))
			Expect(data["org_id"]).To(Equal("00D000000000E2EAAA"))
			remember(data["access_token"])
		}
		Expect(kubectl("get", "sfconn", "-n", ns)).To(MatchRegexp(`crm-jwt\s+True\s+TokenIssued`))
	})

	It("renews a one-minute session before it expires", func() {
		before := getConnection(ns, "crm-password")
		Expect(before.Status.ExpiresAt.Sub(before.Status.IssuedAt.Time)).To(Equal(time.Minute))
		oldToken := secretData(ns, "crm-password-token")["access_token"]
		Eventually(func() string { return secretData(ns, "crm-password-token")["access_token"] }, 90*time.Second).ShouldNot(Equal(oldToken))
		after := getConnection(ns, "crm-password")
		Expect(after.Status.IssuedAt.Time.Before(before.Status.ExpiresAt.Time)).To(BeTrue(), "renewed after the old token expired")
		Expect(readyReason(ns, "crm-password")()).To(Equal("True/TokenIssued"))
		remember(secretData(ns, "crm-password-token")["access_token"])
	})

	It("stops on a wrong password without a hot loop and recovers when the Secret is fixed", func() {
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: wrong-credentials}
stringData:
  client_id: "`+creds.clientID+`"
  client_secret: "`+creds.clientSecret+`"
  username: "`+creds.passwordUser+`"
  password: "not-the-password"
  security_token: "`+creds.securityToken+`"
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: wrong}
spec:
  loginURL: `+emulatorURL+`
  auth: {password: {credentialsSecretRef: {name: wrong-credentials}}}
  sessionTimeout: 1m
`)
		Eventually(readyReason(ns, "wrong")).Should(Equal("False/AuthenticationFailed"))
		Expect(conditionOf(ns, "wrong", sfv1.ConditionStalled)).To(Equal("True/AuthenticationFailed"))
		s, err := emulatorStats()
		Expect(err).NotTo(HaveOccurred())
		failed := 0
		for _, r := range s.Requests {
			if r.Username == creds.passwordUser && r.Status == 400 {
				failed++
			}
		}
		Expect(failed).To(Equal(1))
		Consistently(func() int {
			s, _ := emulatorStats()
			n := 0
			for _, r := range s.Requests {
				if r.Username == creds.passwordUser && r.Status == 400 {
					n++
				}
			}
			return n
		}, 5*time.Second, time.Second).Should(Equal(1), "a wrong password must not be retried")

		kubectl("patch", "secret", "wrong-credentials", "-n", ns, "--type=merge", "-p",
			`{"stringData":{"password":"`+creds.password+`"}}`)
		Eventually(readyReason(ns, "wrong")).Should(Equal("True/TokenIssued"))
		Expect(conditionOf(ns, "wrong", sfv1.ConditionStalled)).To(BeEmpty())
		kubectl("delete", "sfconn", "wrong", "-n", ns)
	})

	It("reports a missing credentials Secret and recovers when it appears", func() {
		apply(ns, `
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: early}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: early-credentials}}}
`)
		Eventually(readyReason(ns, "early")).Should(Equal("False/CredentialsNotFound"))
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: early-credentials}
stringData: {client_id: "`+creds.clientID+`", client_secret: "`+creds.clientSecret+`"}
`)
		Eventually(readyReason(ns, "early")).Should(Equal("True/TokenIssued"))
	})

	It("never contacts a login host that is not allowed", func() {
		notAllowed := strings.Replace(emulatorURL, "127.0.0.1", "localhost", 1)
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: elsewhere-credentials}
stringData: {client_id: "never-contacted-client", client_secret: "`+creds.clientSecret+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: elsewhere}
spec:
  loginURL: `+notAllowed+`
  auth: {clientCredentials: {credentialsSecretRef: {name: elsewhere-credentials}}}
`)
		Eventually(readyReason(ns, "elsewhere")).Should(Equal("False/InvalidSpec"))
		s, err := emulatorStats()
		Expect(err).NotTo(HaveOccurred())
		Expect(s.TokenRequestsByClient).NotTo(HaveKey("never-contacted-client"))
	})

	It("reports a refresh token evicted by a sixth approval, does not retry, and recovers", func() {
		rt := issueRefreshToken(creds.refreshUser)
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: evicted-credentials}
# No client_secret: the token cannot be introspected, and the one-minute sessionTimeout
# below sets its expiry although the org's sessions last two hours.
stringData: {client_id: "`+creds.clientID+`", refresh_token: "`+rt+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: evicted}
spec:
  loginURL: `+emulatorURL+`
  auth: {refreshToken: {credentialsSecretRef: {name: evicted-credentials}}}
  sessionTimeout: 1m
  renewBefore: 50s
`)
		Eventually(readyReason(ns, "evicted")).Should(Equal("True/TokenIssued"))
		for range 5 {
			issueRefreshToken(creds.refreshUser)
		}
		Eventually(readyReason(ns, "evicted"), 90*time.Second).Should(Equal("False/Revoked"))
		Expect(conditionOf(ns, "evicted", sfv1.ConditionRevoked)).To(Equal("True/RefreshTokenRevoked"))
		Expect(conditionOf(ns, "evicted", sfv1.ConditionStalled)).To(Equal("True/Revoked"))
		requests := tokenRequestsOf(creds.refreshUser)
		Consistently(func() int { return tokenRequestsOf(creds.refreshUser) }, 5*time.Second, time.Second).Should(Equal(requests))

		fresh := issueRefreshToken(creds.refreshUser)
		kubectl("patch", "secret", "evicted-credentials", "-n", ns, "--type=merge", "-p", `{"stringData":{"refresh_token":"`+fresh+`"}}`)
		Eventually(readyReason(ns, "evicted")).Should(Equal("True/TokenIssued"))
		Expect(conditionOf(ns, "evicted", sfv1.ConditionRevoked)).To(BeEmpty())
		kubectl("delete", "sfconn", "evicted", "-n", ns)
	})

	It("does not log in again after a restart while the tokens are valid", func() {
		// The two-hour connections: JWT and client credentials.
		jwtLogins, ccLogins := loginsOf(creds.jwtUser), loginsOf(creds.ccUser)
		manager.stop()
		manager = startManager()
		// A new connection proves the new manager is working before the counts are read.
		apply(ns, `
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: after-restart}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: crm-client-credentials-credentials}}}
`)
		Eventually(readyReason(ns, "after-restart")).Should(Equal("True/TokenIssued"))
		Consistently(func() []int { return []int{loginsOf(creds.jwtUser), loginsOf(creds.ccUser)} }, 3*time.Second, 500*time.Millisecond).
			Should(Equal([]int{jwtLogins, ccLogins + 1}))
		Expect(readyReason(ns, "crm-jwt")()).To(Equal("True/TokenIssued"))
	})

	It("says AtLimit on five connections of one user and app, counts a shared token once, and clears on delete", func() {
		refreshConnection := func(name, token string) {
			apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: `+name+`-credentials}
stringData: {client_id: "`+creds.clientID+`", client_secret: "`+creds.clientSecret+`", refresh_token: "`+token+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: `+name+`}
spec:
  loginURL: `+emulatorURL+`
  auth: {refreshToken: {credentialsSecretRef: {name: `+name+`-credentials}}}
`)
		}
		tokens := make([]string, 5)
		for i := range tokens {
			tokens[i] = issueRefreshToken(creds.limitUser)
			refreshConnection(fmt.Sprintf("limit-%d", i), tokens[i])
		}
		refreshConnection("limit-shared", tokens[0])
		approvals := func(name string) func() string {
			return func() string {
				c := getConnection(ns, name)
				if c.Status.Approvals == nil {
					return conditionOf(ns, name, sfv1.ConditionApprovalLimit)
				}
				return fmt.Sprintf("%d %s", c.Status.Approvals.Count, conditionOf(ns, name, sfv1.ConditionApprovalLimit))
			}
		}
		for _, name := range []string{"limit-0", "limit-1", "limit-2", "limit-3", "limit-4", "limit-shared"} {
			Eventually(approvals(name)).Should(Equal("5 True/AtLimit"), name)
		}
		Expect(kubectl("get", "sfconn", "limit-0", "-n", ns, "-o", "wide")).To(MatchRegexp(`limit@e2e.example\s+5`))

		kubectl("delete", "sfconn", "limit-4", "-n", ns)
		for _, name := range []string{"limit-0", "limit-1", "limit-2", "limit-3", "limit-shared"} {
			Eventually(approvals(name)).Should(Equal("4 False/WithinLimit"), name)
		}
	})

	It("never replays a rotated refresh token across renewals and restarts", func() {
		rt := issueRefreshTokenFor(creds.rotatingClientID, creds.refreshUser)
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: rotating-credentials}
stringData: {client_id: "`+creds.rotatingClientID+`", client_secret: "`+creds.clientSecret+`", refresh_token: "`+rt+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: rotating}
spec:
  loginURL: `+emulatorURL+`
  auth: {refreshToken: {credentialsSecretRef: {name: rotating-credentials}}}
  sessionTimeout: 1m
  renewBefore: 50s
`)
		Eventually(readyReason(ns, "rotating")).Should(Equal("True/TokenIssued"))
		renewals := func() int {
			s, err := emulatorStats()
			Expect(err).NotTo(HaveOccurred())
			n := 0
			for _, r := range s.Requests {
				if r.ClientID == creds.rotatingClientID && r.Login {
					n++
				}
			}
			return n
		}
		Eventually(renewals, 90*time.Second).Should(BeNumerically(">=", 2))
		manager.stop()
		manager = startManager()
		before := renewals()
		Eventually(renewals, 90*time.Second).Should(BeNumerically(">=", before+2))
		Expect(readyReason(ns, "rotating")()).To(Equal("True/TokenIssued"))
		Expect(approvalsOf(creds.rotatingClientID, creds.refreshUser)).To(Equal(1), "a replay would have killed the approval")
		s, err := emulatorStats()
		Expect(err).NotTo(HaveOccurred())
		for _, r := range s.Requests {
			if r.ClientID == creds.rotatingClientID {
				Expect(r.Status).To(Equal(200), "a refresh was refused: %s", r.Error)
			}
		}

		By("killing the manager in the middle of a refresh")
		body := `{"endpoint":"token","delay":"60s"}`
		resp, err := http.Post(emulatorURL+"/_emulator/faults", "application/json", strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		// Once renewAt has passed, the refresh is under way, held by the delay.
		Eventually(func() bool {
			c := getConnection(ns, "rotating")
			return c.Status.RenewAt != nil && time.Now().After(c.Status.RenewAt.Add(2*time.Second))
		}, 90*time.Second).Should(BeTrue())
		manager.kill()
		req, err := http.NewRequest(http.MethodDelete, emulatorURL+"/_emulator/faults", nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err = http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		manager = startManager()
		before = renewals()
		Eventually(renewals, 90*time.Second).Should(BeNumerically(">=", before+1))
		Eventually(readyReason(ns, "rotating")).Should(Equal("True/TokenIssued"))
		Expect(approvalsOf(creds.rotatingClientID, creds.refreshUser)).To(Equal(1), "the refresh token survived the crash")
		s, err = emulatorStats()
		Expect(err).NotTo(HaveOccurred())
		for _, r := range s.Requests {
			if r.ClientID == creds.rotatingClientID && r.Status != 0 {
				Expect(r.Status).To(Equal(200), "a refresh was refused: %s", r.Error)
			}
		}
		if s := secretData(ns, "rotating-rotated-refresh-token"); s != nil {
			remember(s["refresh_token"])
		}
	})

	It("fails over to the standby replica, which renews on time, once per renewal", func() {
		standby := startManager()
		apply(ns, shortCredentials()+`
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: ha}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: short-credentials}}}
  sessionTimeout: 1m
  renewBefore: 40s
`)
		Eventually(readyReason(ns, "ha")).Should(Equal("True/TokenIssued"))
		first := getConnection(ns, "ha")
		logins := loginsOf(creds.shortUser)

		By("reporting the connection from the leader only")
		haSeries := `(?m)^` + metrics.TokenExpiration + `\{kind="SalesforceConnection",name="ha",namespace="` + ns + `"\} [1-9]`
		leads := regexp.MustCompile(`(?m)^` + metrics.Leader + ` 1$`)
		follows := regexp.MustCompile(`(?m)^` + metrics.Leader + ` 0$`)
		// Either replica may have taken the lease: both started moments apart.
		var leader, other *process
		Eventually(func(g Gomega) {
			m, s := scrape(manager), scrape(standby)
			switch {
			case leads.MatchString(m) && follows.MatchString(s):
				leader, other = manager, standby
			case leads.MatchString(s) && follows.MatchString(m):
				leader, other = standby, manager
			default:
				g.Expect(sfconnSeries(m, ns) + "\n--\n" + sfconnSeries(s, ns)).To(Equal("one replica with sfconn_leader 1, the other 0"))
			}
			g.Expect(sfconnSeries(scrape(leader), ns)).To(MatchRegexp(haSeries))
		}).Should(Succeed())
		Expect(scrape(other)).NotTo(ContainSubstring(metrics.TokenExpiration+"{"), "a replica that does not lead reports connections")

		By("killing the leader without releasing its lease")
		leader.kill()
		manager = other

		Eventually(func() bool {
			return getConnection(ns, "ha").Status.IssuedAt.After(first.Status.IssuedAt.Time)
		}, 90*time.Second).Should(BeTrue())
		Expect(scrape(manager)).To(MatchRegexp(leads.String()), "the new leader says it leads")
		Eventually(func() string { return sfconnSeries(scrape(manager), ns) }).Should(MatchRegexp(haSeries))
		renewed := getConnection(ns, "ha")
		Expect(renewed.Status.IssuedAt.Time.Before(first.Status.ExpiresAt.Time)).To(BeTrue(), "renewed after the token expired")
		Expect(readyReason(ns, "ha")()).To(Equal("True/TokenIssued"))
		Consistently(func() int { return loginsOf(creds.shortUser) }, 3*time.Second, 500*time.Millisecond).
			Should(Equal(logins+1), "exactly one login for one renewal")
		kubectl("delete", "sfconn", "ha", "-n", ns)
	})

	It("reconciles only the namespaces named by --watch-namespaces", func() {
		watched, unwatched := newNamespace(), newNamespace()
		manager.stop()
		manager = startManager("--watch-namespaces=" + watched)
		for _, target := range []string{watched, unwatched} {
			apply(target, `
apiVersion: v1
kind: Secret
metadata: {name: scoped-credentials}
stringData: {client_id: "`+creds.clientID+`", client_secret: "`+creds.clientSecret+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: scoped}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: scoped-credentials}}}
`)
		}
		Eventually(readyReason(watched, "scoped")).Should(Equal("True/TokenIssued"))
		Consistently(func() int64 { return getConnection(unwatched, "scoped").Status.ObservedGeneration }, 3*time.Second, 500*time.Millisecond).
			Should(BeZero(), "a connection outside --watch-namespaces was reconciled")
		manager.stop()
		manager = startManager()
		Eventually(readyReason(unwatched, "scoped")).Should(Equal("True/TokenIssued"))
	})

	It("needs no more than config/watch-namespaces' Roles to watch some namespaces", func() {
		// A user bound as config/watch-namespaces binds the manager: the Role of
		// config/rbac/role.yaml in the watched namespace only, and, in the manager's
		// namespace, leader election and the approval key, which it must create.
		watched, managerNS := newNamespace(), "sfconn-system"
		// The ClusterSalesforceConnection test may have created it already.
		_, _ = kubectlWithInput("", "create", "namespace", managerNS)
		user, err := testEnv.AddUser(envtest.User{Name: "sfconn-scoped-manager"}, nil)
		Expect(err).NotTo(HaveOccurred())
		kc, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		scopedKubeconfig := filepath.Join(workDir, "scoped-manager-kubeconfig")
		Expect(os.WriteFile(scopedKubeconfig, kc, 0o600)).To(Succeed())
		kubectl("apply", "-n", watched, "-f", filepath.Join(root, "config", "watch-namespaces", "namespace", "role.yaml"))
		kubectl("create", "rolebinding", "sfconn-manager", "-n", watched, "--role=manager-role", "--user=sfconn-scoped-manager")
		leaderRole, err := os.ReadFile(filepath.Join(root, "config", "rbac", "leader_election_role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		out, err := kubectlWithInput(strings.Replace(string(leaderRole), "namespace: system", "namespace: "+managerNS, 1), "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		kubectl("create", "rolebinding", "sfconn-leader-election", "-n", managerNS, "--role=leader-election-role", "--user=sfconn-scoped-manager")
		kubectl("apply", "-f", filepath.Join(root, "config", "watch-namespaces", "approval_key_role.yaml"))
		kubectl("create", "rolebinding", "sfconn-approval-key", "-n", managerNS, "--role=sfconn-approval-key-role", "--user=sfconn-scoped-manager")

		manager.stop()
		logStart := len(managerOutput.String())
		scoped := startManagerWith(scopedKubeconfig, "--watch-namespaces="+watched, "--leader-election-namespace="+managerNS)
		DeferCleanup(func() {
			scoped.stop()
			manager = startManager()
		})
		apply(watched, `
apiVersion: v1
kind: Secret
metadata: {name: scoped-credentials}
stringData: {client_id: "`+creds.clientID+`", client_secret: "`+creds.clientSecret+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: scoped}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: scoped-credentials}}}
`)
		Eventually(readyReason(watched, "scoped")).Should(Equal("True/TokenIssued"))
		Expect(secretData(watched, "scoped-token")).To(HaveKey("access_token"))
		remember(secretData(watched, "scoped-token")["access_token"])
		Expect(secretData(managerNS, "sfconn-approval-key")).To(HaveKey("key"), "the manager created its approval key")
		scoped.stop()
		Expect(managerOutput.String()[logStart:]).NotTo(ContainSubstring("forbidden"))
	})

	It("rides out an API server it cannot reach for a while, and renews afterwards", func() {
		raw, err := os.ReadFile(managerKubeconfig)
		Expect(err).NotTo(HaveOccurred())
		server := regexp.MustCompile(`server: https://([0-9.:]+)`).FindStringSubmatch(string(raw))
		Expect(server).To(HaveLen(2))
		proxy, err := newTCPProxy(server[1])
		Expect(err).NotTo(HaveOccurred())
		proxied := filepath.Join(workDir, "manager-proxied-kubeconfig")
		Expect(os.WriteFile(proxied, []byte(strings.Replace(string(raw), server[1], proxy.addr, 1)), 0o600)).To(Succeed())
		manager.stop()
		// Without leader election: a leader cut off past its renew deadline exits by design
		// (Kubernetes restarts it); this test is about the reconciler riding it out.
		manager = startManagerWith(proxied, "--leader-elect=false")

		apply(ns, shortCredentials()+`
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: outage}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: short-credentials}}}
  sessionTimeout: 1m
  renewBefore: 40s
`)
		Eventually(readyReason(ns, "outage")).Should(Equal("True/TokenIssued"))
		first := getConnection(ns, "outage")

		By("cutting the manager off the API server past the renewal time")
		proxy.cut()
		Eventually(func() bool { return time.Now().After(first.Status.RenewAt.Add(5 * time.Second)) }, 60*time.Second).Should(BeTrue())
		Expect(proxy.restore()).To(Succeed())

		Eventually(func() bool {
			return getConnection(ns, "outage").Status.IssuedAt.After(first.Status.IssuedAt.Time)
		}, 90*time.Second).Should(BeTrue())
		Expect(getConnection(ns, "outage").Status.IssuedAt.Time.Before(first.Status.ExpiresAt.Time)).To(BeTrue(), "renewed after expiry")
		Eventually(readyReason(ns, "outage")).Should(Equal("True/TokenIssued"))
		kubectl("delete", "sfconn", "outage", "-n", ns)
		manager.stop()
		proxy.cut()
		manager = startManager()
	})

	It("asks Salesforce: approvals made outside the cluster, and the real expiry of a token", func() {
		user := creds.outsideUser
		for range 4 { // a laptop and an integration platform, which the cluster cannot see
			issueRefreshToken(user)
		}
		rt := issueRefreshToken(user)
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: outside-credentials}
stringData: {client_id: "`+creds.clientID+`", client_secret: "`+creds.clientSecret+`", refresh_token: "`+rt+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: outside}
spec:
  loginURL: `+emulatorURL+`
  auth: {refreshToken: {credentialsSecretRef: {name: outside-credentials}}}
`)
		Eventually(readyReason(ns, "outside")).Should(Equal("True/TokenIssued"))
		Eventually(func() string { return conditionOf(ns, "outside", sfv1.ConditionApprovalLimit) }).Should(Equal("False/WithinLimit"))

		kubectl("patch", "sfconn", "outside", "-n", ns, "--type=merge", "-p", `{"spec":{"connectedAppName":"sfconn e2e"}}`)
		Eventually(func() string { return conditionOf(ns, "outside", sfv1.ConditionApprovalLimit) }).Should(Equal("True/AtLimit"))
		approvals := getConnection(ns, "outside").Status.Approvals
		Expect(approvals.Count).To(BeEquivalentTo(1))
		Expect(approvals.Salesforce.Count).To(HaveValue(BeEquivalentTo(5)))
		kubectl("delete", "sfconn", "outside", "-n", ns)

		By("a client credentials token that lives a minute, whatever sessionTimeout says")
		apply(ns, shortCredentials()+`
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: introspected}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: short-credentials}}}
  sessionTimeout: 2h
`)
		Eventually(readyReason(ns, "introspected")).Should(Equal("True/TokenIssued"))
		c := getConnection(ns, "introspected")
		Expect(c.Status.ExpirySource).To(Equal(sfv1.ExpirySourceIntrospection))
		Expect(c.Status.ExpiresAt.Sub(c.Status.IssuedAt.Time)).To(Equal(time.Minute))
		Eventually(func() string {
			return kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=introspected", "-o", "jsonpath={.items[*].reason}")
		}).Should(ContainSubstring("SessionTimeoutMismatch"))
		kubectl("delete", "sfconn", "introspected", "-n", ns)
	})

	It("generates a JWT key, waits as AwaitingAdmin, and is Ready once the admin registers the certificate", func() {
		jwtOnly, err := json.Marshal(map[string]any{"apps": []map[string]any{{
			"clientId": "3MVG9-e2e-generated-key", "name": "sfconn e2e generated key", "flows": []string{"jwt"},
			"adminApproved": true, "preAuthorizedUsers": []string{creds.jwtUser}}}})
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.Post(emulatorURL+"/_emulator/state", "application/json", strings.NewReader(string(jwtOnly)))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: generated-credentials}
stringData: {client_id: "3MVG9-e2e-generated-key", username: "`+creds.jwtUser+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: generated}
spec:
  loginURL: `+emulatorURL+`
  auth: {jwtBearer: {generateKey: true, credentialsSecretRef: {name: generated-credentials}}}
`)
		Eventually(readyReason(ns, "generated")).Should(Equal("False/AwaitingAdmin"))
		key := secretData(ns, "generated-jwt")
		Expect(key["tls.key"]).To(HavePrefix("-----BEGIN PRIVATE KEY-----"))
		for _, line := range strings.Split(key["tls.key"], "\n") {
			if len(line) > 40 {
				remember(line) // the last spec greps the manager's output for these
			}
		}
		cert := kubectl("get", "configmap", "generated-jwt-certificate", "-n", ns, "-o", "jsonpath={.data.tls\\.crt}")
		Expect(cert).To(HavePrefix("-----BEGIN CERTIFICATE-----"))
		Expect(kubectl("get", "configmap", "generated-jwt-certificate", "-n", ns, "-o", "yaml")).NotTo(ContainSubstring("PRIVATE KEY"))
		steps, code := runPlugin("admin-instructions", "generated", "-n", ns)
		Expect(code).To(Equal(0), steps)
		Expect(steps).To(ContainSubstring("Use digital signatures"))
		Expect(steps).To(ContainSubstring(strings.TrimSpace(cert)))
		Expect(steps).NotTo(ContainSubstring("PRIVATE KEY"))

		By("the admin uploading the published certificate, and the engineer asking for a try now")
		body, err := json.Marshal(map[string]string{"clientId": "3MVG9-e2e-generated-key", "certificatePEM": cert})
		Expect(err).NotTo(HaveOccurred())
		resp, err = http.Post(emulatorURL+"/_emulator/apps/certificate", "application/json", strings.NewReader(string(body)))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		out, code := runPlugin("renew", "generated", "-n", ns, "--wait")
		Expect(code).To(Equal(0), out)
		Eventually(readyReason(ns, "generated")).Should(Equal("True/TokenIssued"))
		kubectl("delete", "sfconn", "generated", "-n", ns)
	})

	It("never writes a secret value to the manager's output", func() {
		for _, name := range []string{"crm-jwt", "crm-refresh", "crm-client-credentials", "after-restart", "crm-password"} {
			remember(secretData(ns, name+"-token")["access_token"])
		}
		if s := secretData(ns, "crm-refresh-rotated-refresh-token"); s != nil {
			remember(s["refresh_token"])
		}
		output := managerOutput.String()
		Expect(output).To(ContainSubstring("Renewed token"), "the scan must cover a run that did real work")
		secretsMu.Lock()
		defer secretsMu.Unlock()
		leaked := 0
		for _, secret := range secrets {
			if secret != "" && strings.Contains(output, secret) {
				leaked++
			}
		}
		// The count only: printing a leaked value would leak it into the test output too.
		Expect(leaked).To(BeZero(), "%d secret values appear in the manager's output", leaked)
		Expect(len(secrets)).To(BeNumerically(">", 10))
	})
})
