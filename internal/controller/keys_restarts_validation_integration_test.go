package controller

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// The API server refuses credentialsSecretRef.keys maps and rollout restart targets the
// operator could only misread: the CRD's rules, not the operator, are the first line.
var _ = Describe("Admission of credentialsSecretRef.keys and rolloutRestartTargets", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	jwt := func(keys map[string]sfv1.SecretKeyName, generate bool) sfv1.AuthSpec {
		return sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: "3MVG9consumerKey", Username: "integration@acme.com",
			GenerateKey: generate, CredentialsSecretRef: sfv1.SecretReference{Name: "creds", Keys: keys}}}
	}
	expectRefused := func(c *sfv1.SalesforceConnection, field, message string) {
		err := k8s.Create(ctx, c)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(field))
		Expect(err.Error()).To(ContainSubstring(message))
	}

	DescribeTable("refuses bad keys maps",
		func(keys map[string]sfv1.SecretKeyName, generate bool, message string) {
			expectRefused(connection(ns, "keys", jwt(keys, generate)), "spec.auth.jwtBearer", message)
		},
		Entry("a key the operator does not read", map[string]sfv1.SecretKeyName{"tls.key": "private_key"}, false,
			"keys can only map private_key, client_id"),
		Entry("an invalid Secret key", map[string]sfv1.SecretKeyName{"private_key": "tls key"}, false, "should match"),
		Entry("an empty Secret key", map[string]sfv1.SecretKeyName{"private_key": ""}, false, "should be at least 1 chars long"),
		Entry("a Secret key too long", map[string]sfv1.SecretKeyName{"private_key": sfv1.SecretKeyName(strings.Repeat("k", 254))}, false,
			"may not be more than 253"),
		Entry("two keys reading one Secret key", map[string]sfv1.SecretKeyName{"client_id": "id", "username": "id"}, false,
			"keys must not map two keys to the same Secret key"),
		Entry("a key read from another key's own name", map[string]sfv1.SecretKeyName{"username": "client_id"}, false,
			"keys must not map a key to another key's own name"),
		Entry("private_key with generateKey", map[string]sfv1.SecretKeyName{"private_key": "tls.key"}, true,
			"credentialsSecretRef.keys cannot map private_key"),
	)

	It("accepts a cert-manager Secret's keys, a swap, and keys with generateKey that leave private_key alone", func() {
		Expect(k8s.Create(ctx, connection(ns, "certmanager", jwt(map[string]sfv1.SecretKeyName{"private_key": "tls.key"}, false)))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "swap", jwt(map[string]sfv1.SecretKeyName{"client_id": "username", "username": "client_id"}, false)))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "generated", jwt(map[string]sfv1.SecretKeyName{"client_id": "consumer-key"}, true)))).To(Succeed())
	})

	withTargets := func(targets ...sfv1.RolloutRestartTarget) *sfv1.SalesforceConnection {
		c := connection(ns, "targets", jwt(nil, false))
		c.Spec.RolloutRestartTargets = targets
		return c
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"salesforce.sfconn.io/crm": "env"}}

	DescribeTable("refuses bad rollout restart targets",
		func(message string, targets ...sfv1.RolloutRestartTarget) {
			expectRefused(withTargets(targets...), "spec.rolloutRestartTargets", message)
		},
		Entry("neither name nor selector", "exactly one of name and selector", sfv1.RolloutRestartTarget{Kind: "Deployment"}),
		Entry("both name and selector", "exactly one of name and selector",
			sfv1.RolloutRestartTarget{Kind: "Deployment", Name: "web", Selector: selector}),
		Entry("an empty selector", "an empty selector would choose every workload",
			sfv1.RolloutRestartTarget{Kind: "Rollout", Selector: &metav1.LabelSelector{}}),
		Entry("the same workload twice", "must not name the same workload twice",
			sfv1.RolloutRestartTarget{Kind: "Rollout", Name: "web"}, sfv1.RolloutRestartTarget{Kind: "Rollout", Name: "web"}),
		Entry("an unknown kind", "Unsupported value", sfv1.RolloutRestartTarget{Kind: "CronJob", Name: "web"}),
	)

	It("accepts a Rollout by name, workloads by selector, and one name under two kinds", func() {
		Expect(k8s.Create(ctx, withTargets(
			sfv1.RolloutRestartTarget{Kind: "Rollout", Name: "web"},
			sfv1.RolloutRestartTarget{Kind: "Deployment", Name: "web"},
			sfv1.RolloutRestartTarget{Kind: "Deployment", Selector: selector},
			sfv1.RolloutRestartTarget{Kind: "StatefulSet", Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"api"}}}}},
		))).To(Succeed())
	})
})
