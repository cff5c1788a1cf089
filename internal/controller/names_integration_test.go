package controller

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/validation"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

var _ = Describe("A connection of any valid name", func() {
	It("gets its token with a 253-character name: derived names and labels fit", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		name := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
		Expect(name).To(HaveLen(253))
		c := connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		Expect(k8s.Create(ctx, c)).To(Succeed())

		Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
		st := getConn(ctx, ns, name).Status
		Expect(st.TokenSecretName).To(Equal(tokensecret.Name(c)))
		Expect(validation.IsDNS1123Subdomain(st.TokenSecretName)).To(BeEmpty())
		s := tokenSecret(ctx, ns, st.TokenSecretName)
		Expect(s).NotTo(BeNil())
		Expect(validation.IsValidLabelValue(s.Labels[owned.LabelConnection])).To(BeEmpty())
		Expect(s.Annotations).To(HaveKeyWithValue(owned.LabelConnection, name))
		Expect(s.Data[tokensecret.KeyAccessToken]).NotTo(BeEmpty())
	})
})
