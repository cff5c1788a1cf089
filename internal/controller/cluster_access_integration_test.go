package controller

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

var _ = Describe("Access for ClusterSalesforceConnections", func() {
	It("names what an identity without cluster-connection-role may not do, and passes once the role is bound", func() {
		ctx := context.Background()
		const name = "sfconn-cluster-access"
		user, err := testEnv.AddUser(envtest.User{Name: name}, nil)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.New(user.Config(), client.Options{Scheme: newScheme()})
		Expect(err).NotTo(HaveOccurred())

		err = ClusterAccess(ctx, c)
		Expect(errors.Is(err, ErrClusterAccess)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("list clustersalesforceconnections.salesforce.sfconn.io"))
		Expect(err.Error()).To(ContainSubstring("patch clustersalesforceconnections.salesforce.sfconn.io/status"))
		Expect(err.Error()).To(ContainSubstring("watch namespaces"))
		Expect(err.Error()).To(ContainSubstring("cluster-connection-role"))

		By("binding the generated cluster-connection-role")
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "cluster_connection_role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var role rbacv1.ClusterRole
		Expect(yaml.Unmarshal(raw, &role)).To(Succeed())
		role.ObjectMeta = metav1.ObjectMeta{Name: name}
		Expect(k8s.Create(ctx, &role)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(ctx, &role)).To(Succeed()) })
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}},
		}
		Expect(k8s.Create(ctx, binding)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(ctx, binding)).To(Succeed()) })
		Eventually(func() error { return ClusterAccess(ctx, c) }).Should(Succeed())
	})
})
