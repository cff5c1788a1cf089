package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
)

var _ = Describe("Secret versions", func() {
	It("follow the Secrets a connection names, and keep nothing of the others", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(nil)
		unrelated := credentialsSecret(ns, "sh.helm.release.v1.app.v1", "release", "payload")
		Expect(k8s.Create(ctx, unrelated)).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))

		state := func(name string) func() secretversions.State {
			return func() secretversions.State {
				_, st := suiteSecretVersions.Version(types.NamespacedName{Namespace: ns, Name: name})
				return st
			}
		}
		// The credentials Secret existed before the connection named it: the pass read it
		// and reported it. The token Secret is the connection's own.
		Eventually(state("creds")).Should(Equal(secretversions.Present))
		Eventually(state("crm-token")).Should(Equal(secretversions.Present))
		Expect(state("sh.helm.release.v1.app.v1")()).To(Equal(secretversions.Unknown))

		By("a change of the unrelated Secret is not kept either")
		var s corev1.Secret
		Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: unrelated.Name}, &s)).To(Succeed())
		s.Data["release"] = []byte("next")
		Expect(k8s.Update(ctx, &s)).To(Succeed())
		Consistently(state("sh.helm.release.v1.app.v1")).Should(Equal(secretversions.Unknown))

		By("a change of the credentials is followed, at its new version")
		Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "creds"}, &s)).To(Succeed())
		s.Labels = map[string]string{"rotated": "1"}
		Expect(k8s.Update(ctx, &s)).To(Succeed())
		Eventually(func() string {
			rv, _ := suiteSecretVersions.Version(types.NamespacedName{Namespace: ns, Name: "creds"})
			return rv
		}).Should(Equal(s.ResourceVersion))
	})
})
