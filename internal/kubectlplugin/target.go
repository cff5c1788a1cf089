package kubectlplugin

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// A connection is named as kubectl names an object: NAME, or TYPE/NAME where TYPE is a
// resource name, singular or plural, short name, or any of them followed by the group.
// Plain NAME stays the namespaced kind, as it was before the cluster kind existed.
var (
	namespacedTypes = []string{"sfconn", "salesforceconnection", "salesforceconnections"}
	clusterTypes    = []string{"csfconn", "clustersalesforceconnection", "clustersalesforceconnections"}
)

// connRef names a connection given on the command line: a SalesforceConnection of a
// namespace, or a ClusterSalesforceConnection.
type connRef struct {
	cluster   bool
	namespace string
	name      string
}

// String is how messages name the connection: "billing/crm", or "csfconn/crm", which is
// also how it is named on the command line.
func (r connRef) String() string {
	if r.cluster {
		return "csfconn/" + r.name
	}
	return r.namespace + "/" + r.name
}

// kubectlArgs are the arguments that name the connection to kubectl and to this plugin.
func (r connRef) kubectlArgs() string {
	if r.cluster {
		return "csfconn/" + r.name
	}
	return r.name + " -n " + r.namespace
}

// parseRef reads a connection's name from the command line; ns is the namespace of -n,
// which a cluster connection does not take.
func parseRef(arg, ns string) (connRef, error) {
	typ, name, typed := strings.Cut(arg, "/")
	if !typed {
		typ, name = "sfconn", arg
	}
	ref := connRef{name: name, namespace: ns}
	switch base := strings.TrimSuffix(strings.ToLower(typ), "."+sfv1.GroupVersion.Group); {
	case slices.Contains(namespacedTypes, base):
	case slices.Contains(clusterTypes, base):
		ref.cluster, ref.namespace = true, ""
	default:
		return connRef{}, fmt.Errorf("%q is not a type of connection: name a SalesforceConnection as NAME (with -n NAMESPACE) "+
			"or sfconn/NAME, a ClusterSalesforceConnection as csfconn/NAME", typ)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return connRef{}, fmt.Errorf("%q is not a connection name: %s", name, strings.Join(errs, "; "))
	}
	return ref, nil
}

// target is a connection read from the cluster. conn is what the commands work on: the
// SalesforceConnection itself, or a cluster connection's view as a SalesforceConnection of
// the cluster resource namespace (as the operator sees it). obj is the object to patch.
type target struct {
	ref     connRef
	obj     client.Object
	conn    *sfv1.SalesforceConnection
	cluster *sfv1.ClusterSalesforceConnection
}

// getTarget reads the connection ref names; home is the cluster resource namespace, where
// a cluster connection's view lives.
func getTarget(ctx context.Context, c client.Client, ref connRef, home string) (*target, error) {
	if !ref.cluster {
		conn, err := getConnection(ctx, c, ref.namespace, ref.name)
		if err != nil {
			return nil, err
		}
		return &target{ref: ref, obj: conn, conn: conn}, nil
	}
	var cl sfv1.ClusterSalesforceConnection
	err := c.Get(ctx, types.NamespacedName{Name: ref.name}, &cl)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("ClusterSalesforceConnection %q not found", ref.name)
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("you may not read ClusterSalesforceConnection %q: the platform team grants that "+
			"(clustersalesforceconnection-viewer-role, or view, bound cluster-wide): %w", ref.name, err)
	case err != nil:
		return nil, describeAPIError(err)
	}
	return &target{ref: ref, obj: &cl, conn: cl.AsConnection(home), cluster: &cl}, nil
}

// defaultClusterResourceNamespace is where the plugin looks for the objects the operator
// keeps for a cluster connection, unless told otherwise: the operator's default with
// config/default and outside a Pod.
const defaultClusterResourceNamespace = "sfconn-system"

// clusterResourceNamespaceEnv overrides that default for every command, for an operator
// installed elsewhere (with Helm, the release namespace).
const clusterResourceNamespaceEnv = "SFCONN_CLUSTER_RESOURCE_NAMESPACE"

// addClusterResourceNamespaceFlag adds --cluster-resource-namespace to a command that reads
// the objects the operator keeps for a cluster connection.
func addClusterResourceNamespaceFlag(cmd *cobra.Command, into *string) {
	def := defaultClusterResourceNamespace
	if v := os.Getenv(clusterResourceNamespaceEnv); v != "" {
		def = v
	}
	cmd.Flags().StringVar(into, "cluster-resource-namespace", def,
		"The operator's cluster resource namespace (its --cluster-resource-namespace), where it keeps the objects of "+
			"a ClusterSalesforceConnection. $"+clusterResourceNamespaceEnv+" sets the default.")
}

// forbiddenInHome explains a refusal to read an object the operator keeps for a cluster
// connection in the cluster resource namespace, which only the platform team reads.
func forbiddenInHome(what, ns, name string, err error) error {
	return fmt.Errorf("you may not read %s %s/%s: the cluster resource namespace %s holds the credentials of every "+
		"cluster connection and is the platform team's: %w", what, ns, name, ns, err)
}

// notFoundInHome explains a missing object the operator keeps for a cluster connection:
// the connection may not have got that far, or the namespace may not be the operator's.
func notFoundInHome(what, ns, name string) error {
	return fmt.Errorf("%s %s/%s does not exist: is the operator running, and is %s its cluster resource namespace? "+
		"If not, set --cluster-resource-namespace (or $%s) to the namespace of its --cluster-resource-namespace "+
		"(with Helm, the release namespace)", what, ns, name, ns, clusterResourceNamespaceEnv)
}
