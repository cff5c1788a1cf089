// Package e2e runs the built manager and Salesforce emulator binaries against a real
// kube-apiserver and etcd, driven by the built kubectl, as a user would.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

var (
	root       string
	binDir     string
	kubectlBin string
	workDir    string
	kubeconfig string
	// managerKubeconfig is a user bound to config/rbac's roles and to the rule of rollout
	// restarts (config/rollout-restarts) only, so the e2e run proves the shipped RBAC is
	// enough.
	managerKubeconfig string
	testEnv           *envtest.Environment

	emulatorURL string
	emulatorCmd *exec.Cmd
	manager     *process

	// secrets are the secret values handed to the emulator and the operator during the
	// run; none may show up in the manager's output.
	secretsMu sync.Mutex
	secrets   []string

	creds e2eCredentials
)

type e2eCredentials struct {
	clientID, clientSecret, rotatingClientID string
	// shortClientID is an app whose sessions last a minute, as introspection reports:
	// client credentials connections that must renew during a test use it, with a run-as
	// user of their own so that their logins can be counted apart.
	shortClientID, shortUser              string
	passwordUser, password, securityToken string
	jwtUser, refreshUser, ccUser          string
	limitUser, outsideUser                string
	privateKeyPEM                         string
}

func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e tests need a control plane and the built binaries")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test` or `make test-e2e`")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "e2e")
}

// secretValues returns the secret values remembered so far.
func secretValues() []string {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	return append([]string(nil), secrets...)
}

func remember(values ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets = append(secrets, values...)
}

func randomString(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	var err error
	root, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	binDir = filepath.Join(root, "bin")
	kubectlBin = filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	for _, b := range []string{kubectlBin, filepath.Join(binDir, "manager"), filepath.Join(binDir, "salesforce-emulator")} {
		_, err := os.Stat(b)
		Expect(err).NotTo(HaveOccurred(), "%s is missing: run `make build control-plane` (make test does)", b)
	}
	workDir = GinkgoT().TempDir()

	By("starting kube-apiserver and etcd")
	testEnv = &envtest.Environment{}
	_, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	admin, err := testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kc, err := admin.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, kc, 0o600)).To(Succeed())

	By("installing the CRD with kubectl apply -k config/crd")
	kubectl("apply", "-k", filepath.Join(root, "config", "crd"))
	kubectl("wait", "--for=condition=Established", "crd/salesforceconnections.salesforce.sfconn.io",
		"crd/clustersalesforceconnections.salesforce.sfconn.io", "--timeout=60s")

	By("giving the manager only the RBAC that config/rbac (manager and cluster connection roles) and config/rollout-restarts grant it")
	managerUser, err := testEnv.AddUser(envtest.User{Name: "sfconn-manager"}, nil)
	Expect(err).NotTo(HaveOccurred())
	mkc, err := managerUser.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	managerKubeconfig = filepath.Join(workDir, "manager-kubeconfig")
	Expect(os.WriteFile(managerKubeconfig, mkc, 0o600)).To(Succeed())
	kubectl("apply", "-f", filepath.Join(root, "config", "rbac", "role.yaml"))
	leaderRole, err := os.ReadFile(filepath.Join(root, "config", "rbac", "leader_election_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	out, err := kubectlWithInput(strings.Replace(string(leaderRole), "namespace: system", "namespace: default", 1), "apply", "-f", "-")
	Expect(err).NotTo(HaveOccurred(), out)
	kubectl("apply", "-f", filepath.Join(root, "config", "rollout-restarts", "role.yaml"))
	kubectl("apply", "-f", filepath.Join(root, "config", "rbac", "cluster_connection_role.yaml"))
	kubectl("create", "clusterrolebinding", "sfconn-manager", "--clusterrole=manager-role", "--user=sfconn-manager")
	kubectl("create", "clusterrolebinding", "sfconn-cluster-connections", "--clusterrole=cluster-connection-role", "--user=sfconn-manager")
	kubectl("create", "clusterrolebinding", "sfconn-rollout-restarts", "--clusterrole=rollout-restart-role", "--user=sfconn-manager")
	kubectl("create", "rolebinding", "sfconn-leader-election", "-n", "default", "--role=leader-election-role", "--user=sfconn-manager")

	By("starting the Salesforce emulator")
	startEmulator()

	By("starting the manager")
	manager = startManager()
})

var _ = AfterSuite(func() {
	if manager != nil {
		manager.stop()
	}
	if emulatorCmd != nil && emulatorCmd.Process != nil {
		_ = emulatorCmd.Process.Signal(syscall.SIGTERM)
		_ = emulatorCmd.Wait()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

func startEmulator() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	Expect(err).NotTo(HaveOccurred())
	creds = e2eCredentials{
		clientID:         "3MVG9-e2e-consumer-key",
		rotatingClientID: "3MVG9-e2e-rotating-key",
		shortClientID:    "3MVG9-e2e-short-key",
		shortUser:        "short@e2e.example",
		clientSecret:     randomString("cs-"),
		passwordUser:     "password@e2e.example",
		password:         randomString("pw-"),
		securityToken:    randomString("st-"),
		jwtUser:          "jwt@e2e.example",
		refreshUser:      "refresh@e2e.example",
		ccUser:           "integration@e2e.example",
		limitUser:        "limit@e2e.example",
		outsideUser:      "outside@e2e.example",
		privateKeyPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(key)})),
	}
	remember(creds.clientSecret, creds.password, creds.securityToken, creds.password+creds.securityToken)
	for _, line := range strings.Split(creds.privateKeyPEM, "\n") {
		if len(line) > 40 {
			remember(line)
		}
	}
	state := emulator.State{
		// The org's two hours agree with the connections' default sessionTimeout, as
		// introspection tells the operator; the apps that renew within a test say a minute.
		Orgs: []emulator.Org{{ID: "00D000000000E2EAAA", SessionTimeout: emulator.Duration(2 * time.Hour)}},
		Apps: []emulator.ConnectedApp{{
			ClientID: creds.clientID, ClientSecret: creds.clientSecret, Name: "sfconn e2e",
			PublicKeyPEM:          string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
			AdminApproved:         true,
			PreAuthorizedUsers:    []string{creds.passwordUser, creds.jwtUser, creds.refreshUser, creds.ccUser, creds.limitUser, creds.outsideUser},
			ClientCredentialsUser: creds.ccUser,
			// A refresh token may be used without the secret, as the "evicted" test does to
			// keep its token from being introspected.
			RequireSecretForRefreshToken: ptr.To(false),
		}, {
			// Refresh token rotation: every refresh returns the next token and kills the
			// one sent; a replay kills the live one too.
			ClientID: creds.rotatingClientID, ClientSecret: creds.clientSecret, Name: "sfconn e2e rotating",
			SessionTimeout:       emulator.Duration(time.Minute),
			RefreshTokenRotation: true,
			AdminApproved:        true,
			PreAuthorizedUsers:   []string{creds.refreshUser, creds.limitUser},
		}, {
			ClientID: creds.shortClientID, ClientSecret: creds.clientSecret, Name: "sfconn e2e short sessions",
			SessionTimeout:        emulator.Duration(time.Minute),
			AdminApproved:         true,
			PreAuthorizedUsers:    []string{creds.shortUser},
			ClientCredentialsUser: creds.shortUser,
		}},
		Users: []emulator.User{
			{Username: creds.passwordUser, Password: creds.password, SecurityToken: creds.securityToken},
			{Username: creds.jwtUser},
			{Username: creds.refreshUser},
			{Username: creds.ccUser},
			{Username: creds.limitUser},
			{Username: creds.shortUser},
			{Username: creds.outsideUser},
		},
	}
	config, err := json.Marshal(state)
	Expect(err).NotTo(HaveOccurred())
	configPath := filepath.Join(workDir, "emulator.json")
	Expect(os.WriteFile(configPath, config, 0o600)).To(Succeed())

	addr := freeAddr()
	emulatorURL = "http://" + addr
	emulatorCmd = exec.Command(filepath.Join(binDir, "salesforce-emulator"), "--listen", addr, "--config", configPath)
	log, err := os.Create(filepath.Join(workDir, "emulator.log"))
	Expect(err).NotTo(HaveOccurred())
	emulatorCmd.Stdout, emulatorCmd.Stderr = log, log
	Expect(emulatorCmd.Start()).To(Succeed())
	Eventually(func() error { _, err := emulatorStats(); return err }).Should(Succeed())
}

func mustPKCS8(key *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return der
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

// process is a running manager whose whole output is kept for the secret scan.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	// metricsAddr is where the manager serves /metrics, over plain HTTP.
	metricsAddr string
}

// managerOutput accumulates the output of every manager started in the run.
var managerOutput safeBuffer

type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startManager(extraArgs ...string) *process {
	return startManagerWith(managerKubeconfig, extraArgs...)
}

func startManagerWith(kubeconfigPath string, extraArgs ...string) *process {
	metricsAddr := freeAddr()
	args := append([]string{"--kubeconfig", kubeconfigPath,
		"--allowed-login-hosts=127.0.0.1", "--health-probe-bind-address=0", "--leader-elect",
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false",
		// consumers_test.go restarts a Deployment of spec.rolloutRestartTargets.
		"--enable-rollout-restarts",
		"--zap-log-level=debug"}, extraArgs...)
	cmd := exec.Command(filepath.Join(binDir, "manager"), args...)
	w := io.MultiWriter(&managerOutput, GinkgoWriter)
	cmd.Stdout, cmd.Stderr = w, w
	Expect(cmd.Start()).To(Succeed())
	p := &process{cmd: cmd, done: make(chan struct{}), metricsAddr: metricsAddr}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p
}

// kill ends the process the way a crash or a lost node does: no lease is released.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kubectl runs the built kubectl against the test control plane and returns its output.
func kubectl(args ...string) string {
	out, err := kubectlWithInput("", args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), out)
	return out
}

func kubectlWithInput(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func getConnection(ns, name string) *sfv1.SalesforceConnection {
	var c sfv1.SalesforceConnection
	Expect(json.Unmarshal([]byte(kubectl("get", "sfconn", name, "-n", ns, "-o", "json")), &c)).To(Succeed())
	return &c
}

// readyReason is "True/TokenIssued"-style text once status describes the current spec.
func readyReason(ns, name string) func() string {
	return func() string {
		c := getConnection(ns, name)
		for _, cond := range c.Status.Conditions {
			if cond.Type == sfv1.ConditionReady && c.Status.ObservedGeneration == c.Generation {
				return string(cond.Status) + "/" + cond.Reason
			}
		}
		return ""
	}
}

func conditionOf(ns, name, typ string) string {
	for _, cond := range getConnection(ns, name).Status.Conditions {
		if cond.Type == typ {
			return string(cond.Status) + "/" + cond.Reason
		}
	}
	return ""
}

func secretData(ns, name string) map[string]string {
	out, err := kubectlWithInput("", "get", "secret", name, "-n", ns, "-o", "json")
	if err != nil {
		return nil
	}
	var s struct {
		Data map[string][]byte `json:"data"`
	}
	Expect(json.Unmarshal([]byte(out), &s)).To(Succeed())
	data := map[string]string{}
	for k, v := range s.Data {
		data[k] = string(v)
	}
	return data
}

func emulatorStats() (*emulator.Stats, error) {
	resp, err := http.Get(emulatorURL + "/_emulator/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stats: %s", resp.Status)
	}
	var s emulator.Stats
	return &s, json.NewDecoder(resp.Body).Decode(&s)
}

func tokenRequestsOf(user string) int {
	s, err := emulatorStats()
	Expect(err).NotTo(HaveOccurred())
	return s.TokenRequestsByUser[user]
}

func loginsOf(user string) int {
	s, err := emulatorStats()
	Expect(err).NotTo(HaveOccurred())
	return s.SuccessfulLoginsByUser[user]
}

// issueRefreshToken makes an approval as if the user had approved the app in a browser.
func issueRefreshToken(user string) string { return issueRefreshTokenFor(creds.clientID, user) }

func issueRefreshTokenFor(clientID, user string) string {
	body, _ := json.Marshal(map[string]string{"clientId": clientID, "username": user})
	resp, err := http.Post(emulatorURL+"/_emulator/refresh-tokens", "application/json", bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var out struct {
		RefreshToken string `json:"refreshToken"`
	}
	Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
	remember(out.RefreshToken)
	return out.RefreshToken
}

// approvalsOf lists the live approvals the emulator holds for a user and app.
func approvalsOf(clientID, user string) int {
	resp, err := http.Get(emulatorURL + "/_emulator/approvals?clientId=" + clientID + "&username=" + user)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var list []emulator.Approval
	Expect(json.NewDecoder(resp.Body).Decode(&list)).To(Succeed())
	return len(list)
}

func newNamespace() string {
	name := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	kubectl("create", "namespace", name)
	return name
}
