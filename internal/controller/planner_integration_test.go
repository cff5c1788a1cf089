package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

var _ = Describe("The renewal plan under --salesforce-qps", func() {
	It("starts the renewals of a crowded second early, woken by the plan, and none after its renewal time", func() {
		if suiteLimiter == nil {
			Skip("runs with SFCONN_TEST_SALESFORCE_QPS set; make test runs the suite with it too")
		}
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		names := []string{"a", "b", "c", "d", "e"}
		for _, name := range names {
			c := connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
			// A renewBefore of a second keeps the jitter under a second: the five tokens,
			// issued at the same moment of the fake clock, are due in the same second.
			c.Spec.SessionTimeout = &metav1.Duration{Duration: 10 * time.Minute}
			c.Spec.RenewBefore = &metav1.Duration{Duration: time.Second}
			Expect(k8s.Create(ctx, c)).To(Succeed())
		}
		issued, renewAt := map[string]time.Time{}, map[string]time.Time{}
		var latest time.Time
		for _, name := range names {
			Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
			st := getConn(ctx, ns, name).Status
			issued[name], renewAt[name] = st.IssuedAt.Time, st.RenewAt.Time
			if st.RenewAt.After(latest) {
				latest = st.RenewAt.Time
			}
		}

		By("stepping to just before the last renewal time: the plan has started the first ones")
		fakeClock.SetTime(latest.Add(-100 * time.Millisecond))
		Eventually(func() int {
			early := 0
			for _, name := range names {
				st := getConn(ctx, ns, name).Status
				if st.IssuedAt.After(issued[name]) && fakeClock.Now().Before(renewAt[name]) {
					early++
				}
			}
			return early
		}).Should(BeNumerically(">=", 1))

		By("at the last renewal time every one of them has renewed")
		fakeClock.SetTime(latest)
		Eventually(func() int {
			renewed := 0
			for _, name := range names {
				if getConn(ctx, ns, name).Status.IssuedAt.After(issued[name]) {
					renewed++
				}
			}
			return renewed
		}).Should(Equal(len(names)))
	})
})
