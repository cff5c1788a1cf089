package kubectlplugin

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// listClusterConnections lists the ClusterSalesforceConnections, or none for a user who may
// not list them (a tenant, whose roles give nothing on the cluster kind) or a cluster
// without their CRD (an operator older than the kind): status then shows what it can,
// as it did before the kind existed.
func listClusterConnections(ctx context.Context, c client.Client) ([]sfv1.ClusterSalesforceConnection, error) {
	var list sfv1.ClusterSalesforceConnectionList
	err := c.List(ctx, &list)
	if apierrors.IsForbidden(err) || meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, describeAPIError(err)
	}
	return list.Items, nil
}

// clusterStatusTable is the status table of cluster connections at now, sorted by name:
// the columns of statusTable, the name as csfconn/NAME (which tells the kind and is what
// the other commands take), no namespace, and NAMESPACES, how many target namespaces hold
// the current token.
func clusterStatusTable(conns []sfv1.ClusterSalesforceConnection, now time.Time, wide bool) ([]string, [][]string) {
	header := []string{"NAME", "READY", "REASON", "EXPIRES IN", "RENEWS IN", "NAMESPACES", "PRINCIPAL", "APPROVALS"}
	if wide {
		header = append(header, "SECRET", "INSTANCE URL")
	}
	header = append(header, "MESSAGE")

	sorted := slices.Clone(conns)
	slices.SortFunc(sorted, func(a, b sfv1.ClusterSalesforceConnection) int { return strings.Compare(a.Name, b.Name) })
	rows := make([][]string, 0, len(sorted))
	for i := range sorted {
		c := &sorted[i]
		count := "-"
		if c.Status.ObservedGeneration > 0 {
			count = strconv.Itoa(int(c.Status.TokenSecretNamespaces))
		}
		row := []string{connRef{cluster: true, name: c.Name}.String()}
		rows = append(rows, append(row, statusCells(&c.Status.SalesforceConnectionStatus, now, wide, []string{count})...))
	}
	return header, rows
}
