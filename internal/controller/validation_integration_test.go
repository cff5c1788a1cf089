package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// The CRD's CEL rules refuse control characters in the strings a person types. A newline
// in a username would otherwise reach the JWT subject, the form body, status messages and
// log lines; the API server must refuse it before the operator sees it.
var _ = Describe("Admission of free-text fields", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	ref := sfv1.SecretReference{Name: "creds"}
	jwt := func(mutate func(*sfv1.JWTBearerAuth)) sfv1.AuthSpec {
		a := &sfv1.JWTBearerAuth{CredentialsSecretRef: ref, ClientID: "3MVG9consumerKey", Username: "integration@acme.com"}
		mutate(a)
		return sfv1.AuthSpec{JWTBearer: a}
	}

	It("refuses a connection whose username holds a newline", func() {
		c := connection(ns, "newline", jwt(func(a *sfv1.JWTBearerAuth) { a.Username = "integration@acme.com\nX-Injected: 1" }))
		err := k8s.Create(ctx, c)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.auth.jwtBearer.username"))
		Expect(err.Error()).To(ContainSubstring("username must not contain control characters"))
	})

	DescribeTable("refuses control characters in every free-text field",
		func(auth sfv1.AuthSpec, mutate func(*sfv1.SalesforceConnection), field string) {
			c := connection(ns, "bad", auth)
			if mutate != nil {
				mutate(c)
			}
			err := k8s.Create(ctx, c)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring("must not contain control characters"))
		},
		Entry("jwtBearer.clientID, tab", jwt(func(a *sfv1.JWTBearerAuth) { a.ClientID = "3MVG9\tkey" }), nil, "spec.auth.jwtBearer.clientID"),
		Entry("jwtBearer.username, NUL", jwt(func(a *sfv1.JWTBearerAuth) { a.Username = "a\x00@acme.com" }), nil, "spec.auth.jwtBearer.username"),
		Entry("jwtBearer.username, DEL", jwt(func(a *sfv1.JWTBearerAuth) { a.Username = "a\x7f@acme.com" }), nil, "spec.auth.jwtBearer.username"),
		Entry("jwtBearer.username, C1 NEL", jwt(func(a *sfv1.JWTBearerAuth) { a.Username = "a\u0085@acme.com" }), nil, "spec.auth.jwtBearer.username"),
		Entry("jwtBearer.audience, carriage return", jwt(func(a *sfv1.JWTBearerAuth) { a.Audience = "https://acme.my.site.com/\r" }), nil, "spec.auth.jwtBearer.audience"),
		Entry("password.clientID", sfv1.AuthSpec{Password: &sfv1.PasswordAuth{CredentialsSecretRef: ref, ClientID: "k\n"}}, nil, "spec.auth.password.clientID"),
		Entry("password.username", sfv1.AuthSpec{Password: &sfv1.PasswordAuth{CredentialsSecretRef: ref, Username: "u\x1b[31m"}}, nil, "spec.auth.password.username"),
		Entry("refreshToken.clientID", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{CredentialsSecretRef: ref, ClientID: "k\x01"}}, nil, "spec.auth.refreshToken.clientID"),
		Entry("clientCredentials.clientID", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: ref, ClientID: "k\v"}}, nil, "spec.auth.clientCredentials.clientID"),
		Entry("deviceLogin.clientID", sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{ClientID: "k\n", Username: "u@acme.com"}}, nil, "spec.auth.deviceLogin.clientID"),
		Entry("deviceLogin.username", sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{Username: "u@acme.com\n"}}, nil, "spec.auth.deviceLogin.username"),
		Entry("deviceLogin.scope", sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{Username: "u@acme.com", Scope: "api\nrefresh_token"}}, nil, "spec.auth.deviceLogin.scope"),
		Entry("connectedAppName", jwt(func(*sfv1.JWTBearerAuth) {}), func(c *sfv1.SalesforceConnection) { c.Spec.ConnectedAppName = "sfconn\nbootstrap" }, "spec.connectedAppName"),
	)

	It("refuses control characters in loginURL with its URL rule", func() {
		c := connection(ns, "url", jwt(func(*sfv1.JWTBearerAuth) {}))
		c.Spec.LoginURL = "https://login.salesforce.com\n"
		err := k8s.Create(ctx, c)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.loginURL"))
	})

	It("accepts the same fields without control characters, spaces and non-ASCII letters included", func() {
		c := connection(ns, "good", sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{
			ClientID: "3MVG9consumerKey", Username: "jürgen.müller@acme.com", Scope: "refresh_token api"}})
		c.Spec.ConnectedAppName = "sfconn bootstrap (ü)"
		Expect(k8s.Create(ctx, c)).To(Succeed())
	})
})
