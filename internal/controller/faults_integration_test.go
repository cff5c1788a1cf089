package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

var _ = Describe("Faults", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	DescribeTable("back off on a broken Salesforce, with no token lost, and recover",
		func(fault emulator.Fault, reason string) {
			f := newFixture(nil)
			Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
			// Only this connection's logins fail: the other specs' connections, renewing as
			// the shared clock moves, must not queue behind a slow answer.
			fault.ClientID = f.clientID
			Expect(emu.InjectFault(fault)).To(Succeed())
			DeferCleanup(emu.ClearFaults)
			Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())

			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/" + reason))
			Expect(condition(ctx, ns, "crm", sfv1.ConditionReconciling)()).To(Equal("True/" + reason))
			Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(BeEmpty())
			lf := getConn(ctx, ns, "crm").Status.LastFailure
			Expect(lf).NotTo(BeNil())
			Expect(lf.Reason).To(Equal(reason))

			By("waiting for the backoff instead of retrying at once")
			requests := f.tokenRequests()
			Consistently(f.tokenRequests, "500ms").Should(Equal(requests))

			emu.ClearFaults()
			Eventually(func() string {
				fakeClock.Step(time.Minute)
				return readyReason(ctx, ns, "crm")()
			}).Should(Equal("True/TokenIssued"))
			Eventually(func() *sfv1.LoginFailure { return getConn(ctx, ns, "crm").Status.LastFailure }).Should(BeNil())
		},
		Entry("an HTML maintenance page with 503", emulator.Fault{Endpoint: emulator.EndpointToken, Status: 503}, sfv1.ReasonSalesforceUnavailable),
		Entry("a 500 with a JSON body", emulator.Fault{Endpoint: emulator.EndpointToken, Status: 500,
			Body: `{"error":"server_error","error_description":"internal"}`, ContentType: "application/json"}, sfv1.ReasonSalesforceUnavailable),
		Entry("a truncated JSON answer", emulator.Fault{Endpoint: emulator.EndpointToken, Malformed: true}, sfv1.ReasonSalesforceUnavailable),
		Entry("a connection reset", emulator.Fault{Endpoint: emulator.EndpointToken, Reset: true}, sfv1.ReasonSalesforceUnavailable),
		Entry("an answer slower than the client's timeout", emulator.Fault{Endpoint: emulator.EndpointToken,
			Delay: emulator.Duration(10 * time.Second)}, sfv1.ReasonSalesforceUnavailable),
		Entry("the login rate limit", emulator.Fault{Endpoint: emulator.EndpointToken, Status: 400,
			Body: `{"error":"invalid_grant","error_description":"login rate exceeded"}`, ContentType: "application/json"}, sfv1.ReasonRateLimited),
	)

	It("waits long after the login rate limit", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: 400,
			Body: `{"error":"invalid_grant","error_description":"login rate exceeded"}`, ContentType: "application/json"})).To(Succeed())
		DeferCleanup(emu.ClearFaults)
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/RateLimited"))
		requests := f.tokenRequests()
		fakeClock.Step(10 * time.Minute)
		Consistently(f.tokenRequests, "500ms").Should(Equal(requests), "no retry within 10 minutes of a rate limit")
	})

	It("never writes a token whose instance_url points outside Salesforce", func() {
		f := newFixture(nil)
		Expect(emu.Apply(emulator.State{Orgs: []emulator.Org{{ID: "00D000000000009AAA", InstanceURL: "https://collector.example.com"}},
			Users: []emulator.User{{Username: "elsewhere-" + f.username, OrgID: "00D000000000009AAA"}},
			Apps:  []emulator.ConnectedApp{{ClientID: f.clientID + "-x", ClientSecret: f.clientSecret, ClientCredentialsUser: "elsewhere-" + f.username}}})).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID+"-x", "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/InvalidSpec"))
		Expect(tokenSecret(ctx, ns, "crm-token")).To(BeNil())
	})
})
