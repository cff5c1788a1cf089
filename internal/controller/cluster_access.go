package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// clusterAccessNeeded is what the controller of ClusterSalesforceConnections does, as the
// RBAC markers of cluster.go grant it (cluster-connection-role).
var clusterAccessNeeded = []authorizationv1.ResourceAttributes{
	{Group: sfv1.GroupVersion.Group, Resource: "clustersalesforceconnections", Verb: "list"},
	{Group: sfv1.GroupVersion.Group, Resource: "clustersalesforceconnections", Verb: "watch"},
	{Group: sfv1.GroupVersion.Group, Resource: "clustersalesforceconnections", Verb: "patch"},
	{Group: sfv1.GroupVersion.Group, Resource: "clustersalesforceconnections", Subresource: "status", Verb: "patch"},
	{Group: sfv1.GroupVersion.Group, Resource: "clustersalesforceconnections", Subresource: "finalizers", Verb: "update"},
	{Resource: "namespaces", Verb: "list"},
	{Resource: "namespaces", Verb: "watch"},
	{Resource: "secrets", Verb: "delete"},
}

// ErrClusterAccess is wrapped by ClusterAccess's answer when the operator may not do what
// serving ClusterSalesforceConnections takes, or the API server does not serve the kind.
var ErrClusterAccess = errors.New("ClusterSalesforceConnections cannot be served")

// ClusterAccess says whether the operator can serve ClusterSalesforceConnections: the API
// server serves the kind, and c's identity may do what their controller does. Without
// either, an informer for the kind would never sync, and the manager, waiting for it,
// would reconcile nothing at all: an upgrade that missed the CustomResourceDefinition or
// cluster-connection-role would stop every namespaced connection's renewals too. The
// answer wraps ErrClusterAccess and names what is missing; other errors are the API
// server's.
func ClusterAccess(ctx context.Context, c client.Client) error {
	gk := schema.GroupKind{Group: sfv1.GroupVersion.Group, Kind: sfv1.ClusterSalesforceConnectionKind}
	if _, err := c.RESTMapper().RESTMapping(gk, sfv1.GroupVersion.Version); err != nil {
		return fmt.Errorf("%w: the API server does not serve %s (%s): apply the CustomResourceDefinitions of this release",
			ErrClusterAccess, gk, err.Error())
	}
	var missing []string
	for _, attrs := range clusterAccessNeeded {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}
		if err := c.Create(ctx, review); err != nil {
			return fmt.Errorf("reviewing the operator's access to %s: %w", describeAccess(attrs), err)
		}
		if !review.Status.Allowed {
			missing = append(missing, describeAccess(attrs))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the operator may not %s: bind it to cluster-connection-role, or turn cluster connections off",
			ErrClusterAccess, strings.Join(missing, ", "))
	}
	return nil
}

// describeAccess is a request as kubectl auth can-i takes it: "list namespaces".
func describeAccess(a authorizationv1.ResourceAttributes) string {
	resource := a.Resource
	if a.Group != "" {
		resource += "." + a.Group
	}
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	return a.Verb + " " + resource
}
