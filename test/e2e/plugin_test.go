package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// The kubectl plugin, bin/kubectl-sfconn, run as a user runs it against a connection of its
// own: its own connected app and run-as user, so that the logins other specs count are not
// touched, and deleted at the end.
// runPlugin runs bin/kubectl-sfconn with the suite's kubeconfig and returns its output and
// exit status.
func runPlugin(args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "kubectl-sfconn"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue(), "running kubectl-sfconn: %v", err)
		code = exit.ExitCode()
	}
	return string(out), code
}

var _ = Describe("kubectl plugin", Ordered, func() {
	const (
		name     = "plugin"
		clientID = "3MVG9-e2e-plugin-key"
		user     = "plugin@e2e.example"
	)
	var ns, pluginBin string
	plugin := runPlugin
	token := func() string {
		t := secretData(ns, name+"-token")["access_token"]
		Expect(t).NotTo(BeEmpty())
		remember(t)
		return t
	}
	// noToken fails when out holds one of tokens, without printing the token, then shows out.
	noToken := func(out string, tokens ...string) {
		for _, t := range tokens {
			Expect(strings.Contains(out, t)).To(BeFalse(), "the plugin printed an access token")
		}
		GinkgoWriter.Printf("%s\n", out)
	}

	BeforeAll(func() {
		pluginBin = filepath.Join(binDir, "kubectl-sfconn")
		_, err := os.Stat(pluginBin)
		Expect(err).NotTo(HaveOccurred(), "%s is missing: run `make build`", pluginBin)

		secret := randomString("cs-")
		remember(secret)
		state, err := json.Marshal(emulator.State{
			// One-minute sessions, as the connection's spec says and introspection reports.
			Apps: []emulator.ConnectedApp{{ClientID: clientID, ClientSecret: secret, Name: "sfconn e2e plugin", ClientCredentialsUser: user,
				SessionTimeout: emulator.Duration(time.Minute)}},
			Users: []emulator.User{{Username: user}},
		})
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.Post(emulatorURL+"/_emulator/state", "application/json", bytes.NewReader(state))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		ns = newNamespace()
		apply(ns, `
apiVersion: v1
kind: Secret
metadata: {name: plugin-credentials}
stringData: {client_id: "`+clientID+`", client_secret: "`+secret+`"}
---
apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: `+name+`}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: plugin-credentials}}}
  sessionTimeout: 1m
  renewBefore: 10s
`)
		Eventually(readyReason(ns, name)).Should(Equal("True/TokenIssued"))
	})

	AfterAll(func() {
		if ns != "" {
			kubectl("delete", "sfconn", name, "-n", ns, "--ignore-not-found")
		}
	})

	It("status lists a Ready connection with the time left", func() {
		out, code := plugin("status", "-n", ns)
		noToken(out, token())
		Expect(code).To(Equal(0))
		Expect(out).To(MatchRegexp(`(?m)^NAME\s+READY\s+REASON\s+EXPIRES IN\s+RENEWS IN\s+PRINCIPAL\s+APPROVALS\s+MESSAGE$`))
		Expect(out).To(MatchRegexp(`(?m)^plugin\s+True\s+TokenIssued\s+(1m|[0-9]+s)\s+(1m|[0-9]+s|overdue \S+)\s+\S+\s+\S+\s+Token valid until `))

		out, code = plugin("status", "-A", "-o", "wide")
		noToken(out, token())
		Expect(code).To(Equal(0))
		Expect(out).To(MatchRegexp(`(?m)^` + ns + `\s+plugin\s+True\s+TokenIssued\s+.*\s+plugin-token\s+` + emulatorURL + `\s+Token valid until `))

		By("kubectl finding the plugin on PATH")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectlBin, "sfconn", "status", name, "-n", ns)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
		raw, err := cmd.CombinedOutput()
		noToken(string(raw), token())
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).To(MatchRegexp(`(?m)^plugin\s+True\s+TokenIssued\s+`))

		out, code = plugin("status", "missing", "-n", ns)
		Expect(code).To(Equal(1))
		Expect(out).To(Equal(`error: SalesforceConnection "missing" not found in namespace "` + ns + `"` + "\n"))
	})

	It("renew --wait renews the token at once", func() {
		before := getConnection(ns, name)
		oldToken := token()
		// Status keeps whole seconds: let one pass so that a renewal shows in issuedAt.
		Eventually(func() bool { return time.Now().After(before.Status.IssuedAt.Add(time.Second)) }).Should(BeTrue())

		out, code := plugin("renew", name, "-n", ns, "--wait", "--timeout", "60s")
		newToken := token()
		noToken(out, oldToken, newToken)
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("Renewal of " + ns + "/plugin requested (" + sfv1.AnnotationRequestedAt + "="))
		Expect(out).To(ContainSubstring("Ready:      True (TokenIssued)\n"))
		Expect(out).To(MatchRegexp(`Expires at: \S+ \(in (1m|[0-9]+s)\)`))

		after := getConnection(ns, name)
		requested := after.Annotations[sfv1.AnnotationRequestedAt]
		_, err := time.Parse(time.RFC3339Nano, requested)
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Status.LastHandledReconcileAt).To(Equal(requested))
		Expect(after.Status.IssuedAt.After(before.Status.IssuedAt.Time)).To(BeTrue(), "issuedAt did not move")
		Expect(after.Status.ExpiresAt.After(before.Status.ExpiresAt.Time)).To(BeTrue(), "expiresAt did not move")
		Expect(newToken != oldToken).To(BeTrue(), "the token Secret still holds the old token")
		Expect(out).To(ContainSubstring("Expires at: " + after.Status.ExpiresAt.UTC().Format(time.RFC3339)))
	})

	It("test calls Salesforce with the token and shows the API version and limits, never the token", func() {
		out, code := plugin("test", name, "-n", ns)
		noToken(out, token())
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("Instance URL:  " + emulatorURL + "\n"))
		Expect(out).To(ContainSubstring("Org ID:        00D000000000E2EAAA\n"))
		Expect(out).To(MatchRegexp(`API version:   66\.0 \(Spring '26\)`))
		Expect(out).To(MatchRegexp(`Round trip:    [0-9.]+[µm]?s \(GET /services/data\)`))
		Expect(out).To(MatchRegexp(`(?m)^  DailyApiRequests\s+[0-9,]+\s+15,000$`))
		Expect(out).To(MatchRegexp(`(?m)^  DataStorageMB\s+[0-9,]+\s+[0-9,]+$`))
		Expect(out).To(ContainSubstring("Salesforce accepted the token."))
	})

	It("test says a rejected token is rejected and suggests renew, which fixes it", func() {
		revoked := token()
		body, err := json.Marshal(map[string]string{"token": revoked})
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.Post(emulatorURL+"/_emulator/approvals/revoke", "application/json", bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		out, code := plugin("test", name, "-n", ns)
		noToken(out, revoked)
		if token() == revoked { // not renewed on its own meanwhile
			Expect(code).To(Equal(1))
			Expect(out).To(ContainSubstring("Salesforce rejected the token of " + ns + "/plugin (HTTP 401 INVALID_SESSION_ID"))
			Expect(out).To(ContainSubstring("kubectl sfconn renew plugin -n " + ns + " --wait"))
		}

		out, code = plugin("renew", name, "-n", ns, "--wait")
		noToken(out, revoked, token())
		Expect(code).To(Equal(0), out)
		out, code = plugin("test", name, "-n", ns)
		noToken(out, revoked, token())
		Expect(code).To(Equal(0), out)
	})
})
