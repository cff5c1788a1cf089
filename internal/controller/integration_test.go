package controller

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

var fixtureSeq atomic.Int32

// fixture is one org user and connected app in the emulator, unique to a test so that
// counts of logins and approvals are the test's own.
type fixture struct {
	clientID, clientSecret, username, password, securityToken string
	privateKeyPEM                                             string
}

func newFixture(app func(*emulator.ConnectedApp)) fixture {
	n := fixtureSeq.Add(1)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	Expect(err).NotTo(HaveOccurred())
	f := fixture{
		clientID:      fmt.Sprintf("3MVG9-client-%d", n),
		clientSecret:  fmt.Sprintf("client-secret-%d-%d", n, time.Now().UnixNano()),
		username:      fmt.Sprintf("integration-%d@acme.example", n),
		password:      fmt.Sprintf("pw-%d-%d", n, time.Now().UnixNano()),
		securityToken: fmt.Sprintf("SECTOKEN%dXXXXXXXXXXXXXXX", n),
		privateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
	}
	a := emulator.ConnectedApp{
		ClientID: f.clientID, ClientSecret: f.clientSecret, Name: "App " + f.clientID,
		PublicKeyPEM:          string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		AdminApproved:         true,
		PreAuthorizedUsers:    []string{f.username},
		ClientCredentialsUser: f.username,
	}
	if app != nil {
		app(&a)
	}
	Expect(emu.Apply(emulator.State{
		Orgs:  []emulator.Org{{ID: "00D000000000001AAA"}},
		Apps:  []emulator.ConnectedApp{a},
		Users: []emulator.User{{Username: f.username, Password: f.password, SecurityToken: f.securityToken, OrgID: "00D000000000001AAA"}},
	})).To(Succeed())
	return f
}

// tokenRequests counts the token-endpoint requests made for this fixture's app.
func (f fixture) tokenRequests() int { return emu.Stats().TokenRequestsByClient[f.clientID] }

func credentialsSecret(ns, name string, kv ...string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{}}
	for i := 0; i < len(kv); i += 2 {
		s.StringData[kv[i]] = kv[i+1]
	}
	return s
}

func connection(ns, name string, auth sfv1.AuthSpec) *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sfv1.SalesforceConnectionSpec{
			LoginURL:       emuServer.URL,
			Auth:           auth,
			SessionTimeout: &metav1.Duration{Duration: 2 * time.Hour},
		},
	}
}

func getConn(ctx context.Context, ns, name string) *sfv1.SalesforceConnection {
	var c sfv1.SalesforceConnection
	Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &c)).To(Succeed())
	return &c
}

// readyReason returns "True/TokenIssued"-style text for the Ready condition, once the
// status describes the current generation.
func readyReason(ctx context.Context, ns, name string) func() string {
	return func() string {
		c := getConn(ctx, ns, name)
		r := meta.FindStatusCondition(c.Status.Conditions, sfv1.ConditionReady)
		if r == nil || c.Status.ObservedGeneration != c.Generation {
			return ""
		}
		return string(r.Status) + "/" + r.Reason
	}
}

func condition(ctx context.Context, ns, name, typ string) func() string {
	return func() string {
		c := meta.FindStatusCondition(getConn(ctx, ns, name).Status.Conditions, typ)
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
}

func tokenSecret(ctx context.Context, ns, name string) *corev1.Secret {
	var s corev1.Secret
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		return nil
	}
	return &s
}

// accessToken returns a digest of the token Secret's access token: enough to see it
// change, and nothing secret for a failing assertion to print.
func accessToken(ctx context.Context, ns, name string) func() string {
	return func() string {
		if s := tokenSecret(ctx, ns, name); s != nil && len(s.Data[tokensecret.KeyAccessToken]) > 0 {
			return rotation.Digest(string(s.Data[tokensecret.KeyAccessToken]))[:16]
		}
		return ""
	}
}

// stepPastRenewal moves the fake clock just past the connection's renewAt, once the status
// shows a renewal still ahead (so a status a moment behind cannot send the clock back).
func stepPastRenewal(ctx context.Context, ns, name string) {
	var renewAt time.Time
	Eventually(func() bool {
		c := getConn(ctx, ns, name)
		if c.Status.RenewAt == nil {
			return false
		}
		renewAt = c.Status.RenewAt.Time
		return renewAt.After(fakeClock.Now())
	}).Should(BeTrue(), "the status of %s shows no renewal ahead", name)
	fakeClock.SetTime(renewAt.Add(time.Second))
}

var _ = Describe("SalesforceConnection", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("logs in with the password flow, writes the token Secret and renews it before expiry", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret,
			"username", f.username, "password", f.password, "security_token", f.securityToken))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{Password: &sfv1.PasswordAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())

		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		s := tokenSecret(ctx, ns, "crm-token")
		Expect(s).NotTo(BeNil())
		for _, k := range []string{tokensecret.KeyAccessToken, tokensecret.KeyInstanceURL, tokensecret.KeyTokenType, tokensecret.KeyIssuedAt, tokensecret.KeyExpiresAt, tokensecret.KeyID, tokensecret.KeyOrgID, tokensecret.KeyUserID} {
			Expect(s.Data).To(HaveKey(k))
			Expect(s.Data[k]).NotTo(BeEmpty(), k)
		}
		Expect(s.Data).NotTo(HaveKey("refresh_token"))
		Expect(string(s.Data[tokensecret.KeyOrgID])).To(Equal("00D000000000001AAA"))
		Expect(string(s.Data[tokensecret.KeyTokenType])).To(Equal("Bearer"))
		Expect(s.Labels).To(HaveKeyWithValue(owned.LabelManagedBy, owned.ManagedByValue))
		Expect(s.OwnerReferences).To(HaveLen(1))

		c := getConn(ctx, ns, "crm")
		Expect(c.Status.TokenSecretName).To(Equal("crm-token"))
		Expect(c.Status.OrgID).To(Equal("00D000000000001AAA"))
		Expect(c.Status.ExpiresAt.Sub(c.Status.IssuedAt.Time)).To(Equal(2 * time.Hour))
		Expect(c.Status.RenewAt.Before(c.Status.ExpiresAt)).To(BeTrue())
		Expect(f.tokenRequests()).To(Equal(1))
		first := accessToken(ctx, ns, "crm-token")()
		tokenSecretReads := readsOf(&uncachedReads, ns, "crm-token")
		readsBefore := tokenSecretReads()

		By("renewing when the fake clock passes renewAt")
		stepPastRenewal(ctx, ns, "crm")
		Eventually(accessToken(ctx, ns, "crm-token")).ShouldNot(Equal(first))
		Eventually(func() bool { return getConn(ctx, ns, "crm").Status.RenewAt.After(fakeClock.Now()) }).Should(BeTrue())
		Expect(f.tokenRequests()).To(Equal(2))
		Expect(readyReason(ctx, ns, "crm")()).To(Equal("True/TokenIssued"))
		Expect(tokenSecretReads()).To(Equal(readsBefore), "the renewal read the token Secret from the API server: memory should complete the cache's copy")
	})

	It("logs in with JWT bearer and client credentials", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "jwt", "private_key", f.privateKeyPEM))).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "cc", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "jwt", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{
			ClientID: f.clientID, Username: f.username, CredentialsSecretRef: sfv1.SecretReference{Name: "jwt"}}}))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "cc", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "cc"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "jwt")).Should(Equal("True/TokenIssued"))
		Eventually(readyReason(ctx, ns, "cc")).Should(Equal("True/TokenIssued"))
		Expect(tokenSecret(ctx, ns, "jwt-token").Data[tokensecret.KeyAccessToken]).NotTo(BeEmpty())
		Expect(tokenSecret(ctx, ns, "cc-token").Data[tokensecret.KeyAccessToken]).NotTo(BeEmpty())
	})

	It("stalls on a wrong password without retrying, and recovers when the Secret is fixed", func() {
		f := newFixture(nil)
		creds := credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret,
			"username", f.username, "password", "wrong", "security_token", f.securityToken)
		Expect(k8s.Create(ctx, creds)).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{Password: &sfv1.PasswordAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/AuthenticationFailed"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(Equal("True/AuthenticationFailed"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("authentication failure"))
		Expect(msg).NotTo(ContainSubstring("wrong"))

		By("not retrying as time passes")
		fakeClock.Step(3 * time.Hour)
		Consistently(f.tokenRequests, "1s").Should(Equal(1))
		Expect(tokenSecret(ctx, ns, "crm-token")).To(BeNil())

		By("recovering once the Secret holds the right password")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(creds), creds)).To(Succeed())
		creds.Data["password"] = []byte(f.password)
		Expect(k8s.Update(ctx, creds)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(BeEmpty())
		Expect(getConn(ctx, ns, "crm").Status.LastFailure).To(BeNil())
	})

	It("names a missing security token as the likely cause of a refused password login", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret,
			"username", f.username, "password", f.password))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{Password: &sfv1.PasswordAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/AuthenticationFailed"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("no security_token"))
	})

	It("waits for a missing credentials Secret and recovers when it is created", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "later"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/CredentialsNotFound"))
		Expect(f.tokenRequests()).To(Equal(0))
		Expect(k8s.Create(ctx, credentialsSecret(ns, "later", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
	})

	It("names missing keys and refuses unusable key material without touching other connections", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "nokey", "client_id", f.clientID))).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "badpem", "private_key", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"))).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "good", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "nokey", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "nokey"}}}))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "badpem", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{
			ClientID: f.clientID, Username: f.username, CredentialsSecretRef: sfv1.SecretReference{Name: "badpem"}}}))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "good", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "good"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "nokey")).Should(Equal("False/CredentialsNotFound"))
		Eventually(readyReason(ctx, ns, "badpem")).Should(Equal("False/InvalidCredentials"))
		Eventually(readyReason(ctx, ns, "good")).Should(Equal("True/TokenIssued"))
		ready := meta.FindStatusCondition(getConn(ctx, ns, "nokey").Status.Conditions, sfv1.ConditionReady)
		Expect(ready.Message).To(ContainSubstring(`"client_secret"`))
		ready = meta.FindStatusCondition(getConn(ctx, ns, "badpem").Status.Conditions, sfv1.ConditionReady)
		Expect(ready.Message).To(ContainSubstring(`"private_key"`))
	})

	It("never contacts a login host that is not allowed", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		conn := connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		conn.Spec.LoginURL = strings.Replace(emuServer.URL, "127.0.0.1", "localhost", 1)
		Expect(k8s.Create(ctx, conn)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/InvalidSpec"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(Equal("True/InvalidSpec"))
		Expect(f.tokenRequests()).To(Equal(0))
	})

	It("reports a refresh token revoked by a sixth approval, stops, and recovers with a new refresh token", func() {
		f := newFixture(nil)
		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		creds := credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt)
		Expect(k8s.Create(ctx, creds)).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		before := accessToken(ctx, ns, "crm-token")()

		By("five more approvals elsewhere evict ours")
		for range 5 {
			_, err := emu.IssueRefreshToken(f.clientID, f.username)
			Expect(err).NotTo(HaveOccurred())
		}
		stepPastRenewal(ctx, ns, "crm")
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/Revoked"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionRevoked)()).To(Equal("True/RefreshTokenRevoked"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(Equal("True/Revoked"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionExpiring)()).To(Equal("True/RenewalFailing"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionRevoked).Message
		Expect(msg).To(ContainSubstring("five-approval limit"))
		Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(before), "the old access token stays until it expires")

		By("not retrying")
		requests := f.tokenRequests()
		fakeClock.Step(time.Hour)
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionExpiring)).Should(Equal("True/Expired"))
		Consistently(f.tokenRequests, "1s").Should(Equal(requests))

		By("recovering with a new refresh token")
		fresh, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(creds), creds)).To(Succeed())
		creds.Data["refresh_token"] = []byte(fresh)
		Expect(k8s.Update(ctx, creds)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionRevoked)()).To(BeEmpty())
		Expect(condition(ctx, ns, "crm", sfv1.ConditionExpiring)()).To(BeEmpty())
	})

	It("keeps the rotated refresh token so renewals never replay an old one", func() {
		f := newFixture(func(a *emulator.ConnectedApp) { a.RefreshTokenRotation = true })
		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		for i := range 3 {
			prev := accessToken(ctx, ns, "crm-token")()
			stepPastRenewal(ctx, ns, "crm")
			Eventually(accessToken(ctx, ns, "crm-token")).ShouldNot(Equal(prev), "renewal %d", i)
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		}
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))
		// The chain lives in the operator's namespace, named after the approval.
		chain := tokenSecret(ctx, metav1.NamespaceDefault, rotation.ChainSecretName(getConn(ctx, ns, "crm").Status.Approval.ID))
		Expect(chain).NotTo(BeNil())
		Expect(string(chain.Data["refresh_token"])).NotTo(BeEmpty())
		Expect(string(chain.Data["refresh_token"])).NotTo(Equal(rt))
		Expect(tokenSecret(ctx, ns, "crm-rotated-refresh-token")).To(BeNil(), "no copy in the tenant's namespace")
	})

	It("retries a Salesforce outage with backoff, keeping the token, and recovers", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		before := accessToken(ctx, ns, "crm-token")()

		Expect(emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: 503})).To(Succeed())
		DeferCleanup(emu.ClearFaults)
		stepPastRenewal(ctx, ns, "crm")
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionReconciling)).Should(Equal("True/SalesforceUnavailable"))
		Expect(readyReason(ctx, ns, "crm")()).To(Equal("True/TokenIssued"), "the old token is still valid")
		Expect(condition(ctx, ns, "crm", sfv1.ConditionExpiring)()).To(Equal("True/RenewalFailing"))
		Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(before))

		By("backing off: the failure count grows as the clock passes each retry time")
		Eventually(func() int32 {
			fakeClock.Step(time.Minute)
			return getConn(ctx, ns, "crm").Status.LastFailure.Count
		}).Should(BeNumerically(">=", 3))
		emu.ClearFaults()
		Eventually(func() string {
			fakeClock.Step(time.Minute)
			return accessToken(ctx, ns, "crm-token")()
		}).ShouldNot(Equal(before))
		// The token Secret is written before the status: wait for the status.
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionReconciling)).Should(BeEmpty())
		Expect(readyReason(ctx, ns, "crm")()).To(Equal("True/TokenIssued"))
		Expect(getConn(ctx, ns, "crm").Status.LastFailure).To(BeNil())
	})

	It("repairs an edited or deleted token Secret, without a login while it can", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))

		By("re-applying removed labels without a login")
		s := tokenSecret(ctx, ns, "crm-token")
		delete(s.Labels, owned.LabelManagedBy)
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func() map[string]string { return tokenSecret(ctx, ns, "crm-token").Labels }).Should(HaveKeyWithValue(owned.LabelManagedBy, owned.ManagedByValue))
		Expect(f.tokenRequests()).To(Equal(1))

		By("taking the token Secret out of the cache again, as after an upgrade from an operator that cached it")
		s = tokenSecret(ctx, ns, "crm-token")
		delete(s.Labels, owned.LabelUncached)
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func() map[string]string { return tokenSecret(ctx, ns, "crm-token").Labels }).Should(HaveKeyWithValue(owned.LabelUncached, "true"))
		Expect(f.tokenRequests()).To(Equal(1))

		By("restoring an edited token without a login")
		original := accessToken(ctx, ns, "crm-token")()
		s = tokenSecret(ctx, ns, "crm-token")
		s.Data[tokensecret.KeyAccessToken] = []byte("tampered")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(accessToken(ctx, ns, "crm-token")).Should(Equal(original))

		By("restoring a deleted token Secret without a login")
		Expect(k8s.Delete(ctx, tokenSecret(ctx, ns, "crm-token"))).To(Succeed())
		Eventually(accessToken(ctx, ns, "crm-token")).Should(Equal(original))
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(1))

	})

	It("refuses to overwrite a Secret it does not own", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "crm-token", "mine", "keep me"))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/InvalidSpec"))
		Expect(string(tokenSecret(ctx, ns, "crm-token").Data["mine"])).To(Equal("keep me"))

		Expect(f.tokenRequests()).To(Equal(0))

		By("taking the name once the other Secret is gone")
		Expect(k8s.Delete(ctx, tokenSecret(ctx, ns, "crm-token"))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		By("refusing the operator's own Secrets as credentials")
		Expect(k8s.Create(ctx, connection(ns, "borrower", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "crm-token"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "borrower")).Should(Equal("False/InvalidSpec"))
	})

	It("does not log in again after a restart while tokens are valid", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		for _, name := range []string{"a", "b", "c"} {
			Expect(k8s.Create(ctx, connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
			Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
		}
		Expect(f.tokenRequests()).To(Equal(3))
		credentialReads := readsOf(&uncachedReads, ns, "creds")
		versionChecks := readsOf(&metadataReads, ns, "creds")
		readsBefore, checksBefore := credentialReads(), versionChecks()
		tokenReadsBefore := readsOf(&uncachedReads, ns, "a-token")()

		stopMgr()
		stopMgr = startManager()
		// A change the new manager must see proves it is running before counting.
		Expect(k8s.Create(ctx, connection(ns, "d", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "d")).Should(Equal("True/TokenIssued"))
		Consistently(f.tokenRequests, "1s").Should(Equal(4))

		By("re-checking a, b and c from the caches alone: only d's login read the credentials")
		Eventually(versionChecks).Should(BeNumerically(">=", checksBefore+4))
		Expect(credentialReads()).To(Equal(readsBefore + 1))

		By("reading each token Secret once: the cache does not hold them, and the new process remembers no token")
		tokenReads := readsOf(&uncachedReads, ns, "a-token")
		Eventually(tokenReads).Should(Equal(tokenReadsBefore + 1))
		checks := versionChecks()
		updateConn(ctx, ns, "a", func(c *sfv1.SalesforceConnection) {
			c.Annotations = map[string]string{"example.com/touched": "yes"}
		})
		Eventually(versionChecks).Should(BeNumerically(">", checks))
		Expect(tokenReads()).To(Equal(tokenReadsBefore+1), "a pass after the first read the token Secret from the API server, not from memory")
		Expect(f.tokenRequests()).To(Equal(4))
	})

	It("refuses invalid specs at admission with messages a person understands", func() {
		ref := sfv1.SecretReference{Name: "creds"}
		d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
		tests := []struct {
			name    string
			mutate  func(*sfv1.SalesforceConnection)
			message string
		}{
			{"no auth", func(c *sfv1.SalesforceConnection) { c.Spec.Auth = sfv1.AuthSpec{} }, "exactly one of"},
			{"two auths", func(c *sfv1.SalesforceConnection) {
				c.Spec.Auth.Password = &sfv1.PasswordAuth{CredentialsSecretRef: ref}
			}, "exactly one of"},
			{"ftp login URL", func(c *sfv1.SalesforceConnection) { c.Spec.LoginURL = "ftp://login.salesforce.com" }, "http(s)://"},
			{"login URL with a path", func(c *sfv1.SalesforceConnection) {
				c.Spec.LoginURL = "https://login.salesforce.com/services/oauth2/token"
			}, "http(s)://"},
			{"login URL with user info", func(c *sfv1.SalesforceConnection) { c.Spec.LoginURL = "https://u:p@login.salesforce.com" }, "http(s)://"},
			{"session timeout too short", func(c *sfv1.SalesforceConnection) { c.Spec.SessionTimeout = d(30 * time.Second) }, "between 1m and 24h"},
			{"session timeout too long", func(c *sfv1.SalesforceConnection) { c.Spec.SessionTimeout = d(25 * time.Hour) }, "between 1m and 24h"},
			{"renewBefore not below sessionTimeout", func(c *sfv1.SalesforceConnection) {
				c.Spec.SessionTimeout, c.Spec.RenewBefore = d(time.Hour), d(time.Hour)
			}, "renewBefore must be shorter than sessionTimeout"},
			{"bad Secret name", func(c *sfv1.SalesforceConnection) {
				c.Spec.Auth.ClientCredentials.CredentialsSecretRef.Name = "Not_A_Name"
			}, "credentialsSecretRef.name"},
			{"template data that is too long", func(c *sfv1.SalesforceConnection) {
				c.Spec.TokenSecret.Template = &sfv1.TokenSecretTemplate{Data: map[string]sfv1.TemplateText{
					"k": sfv1.TemplateText(strings.Repeat("x", 16385))}}
			}, `spec.tokenSecret.template.data.k: Too long: may not be more than 16384`},
		}
		for _, action := range []string{"{{range 100000000000}}{{end}}", "x{{- if .Name }}y{{ end }}", "{{  with .Name }}{{ end }}",
			`{{define "d"}}{{end}}`, `{{ template "d" }}`, "{{-\tblock \"b\" .}}{{end}}"} {
			tests = append(tests, struct {
				name    string
				mutate  func(*sfv1.SalesforceConnection)
				message string
			}{"template data with " + action, func(c *sfv1.SalesforceConnection) {
				c.Spec.TokenSecret.Template = &sfv1.TokenSecretTemplate{Data: map[string]sfv1.TemplateText{
					"ok": "{{ .InstanceURL }}", "bad": sfv1.TemplateText(action)}}
			}, "a data template cannot use {{range}}, {{if}}, {{with}}, {{define}}, {{template}} or {{block}}: it holds only text"})
		}
		for _, tt := range tests {
			c := connection(ns, "bad", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: ref}})
			tt.mutate(c)
			err := k8s.Create(ctx, c)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", tt.name, err)
			Expect(err.Error()).To(ContainSubstring(tt.message), tt.name)
		}
		By("naming the key of a template that admission refuses")
		c := connection(ns, "bad", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: ref}})
		c.Spec.TokenSecret.Template = &sfv1.TokenSecretTemplate{Data: map[string]sfv1.TemplateText{
			"ok": "{{ .InstanceURL }}", "bad": "{{ range 1 }}{{ end }}"}}
		// The path names the key. What follows "Invalid value:" differs by API server: 1.37
		// quotes the template, 1.34 the type ("string").
		err := k8s.Create(ctx, c)
		Expect(err).To(MatchError(ContainSubstring(`spec.tokenSecret.template.data[bad]: Invalid value: "`)))
		Expect(err).To(MatchError(ContainSubstring(`": a data template cannot use`)))
		Expect(err).NotTo(MatchError(ContainSubstring("data[ok]")))

		By("defaulting loginURL and sessionTimeout")
		c = connection(ns, "defaults", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: ref}})
		c.Spec.LoginURL, c.Spec.SessionTimeout = "", nil
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Expect(c.Spec.LoginURL).To(Equal("https://login.salesforce.com"))
		Expect(c.Spec.SessionTimeout.Duration).To(Equal(2 * time.Hour))
	})
})
