package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// messageWidth is how much of Ready's message the status table shows (all of it with -o wide).
const messageWidth = 60

type statusOptions struct {
	allNamespaces bool
	output        string
}

func newStatusCommand(env *Env) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [NAME | csfconn/NAME]",
		Short: "Show whether each connection's token is good, when it expires and when it is renewed",
		Long: "status lists the SalesforceConnections of the namespace (of every namespace with -A)\n" +
			"and then, in a table of their own, the ClusterSalesforceConnections you may list, named\n" +
			"csfconn/NAME, with the number of namespaces that hold their token; -n does not apply to\n" +
			"them. Given a name, it shows that connection only: NAME (with -n) or csfconn/NAME.",
		Example: `  kubectl sfconn status
  kubectl sfconn status crm -n billing
  kubectl sfconn status csfconn/crm
  kubectl sfconn status -A -o wide`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return o.run(cmd.Context(), env, name)
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "List the connections of every namespace.")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: wide adds the token Secret and the instance URL.")
	return cmd
}

func (o *statusOptions) run(ctx context.Context, env *Env, arg string) error {
	if o.output != "" && o.output != "wide" {
		return fmt.Errorf("unsupported output format %q: use -o wide, or kubectl get sfconn -o %s", o.output, o.output)
	}
	c, ns, err := env.clientAndNamespace()
	if err != nil {
		return err
	}
	var conns []sfv1.SalesforceConnection
	var clusterConns []sfv1.ClusterSalesforceConnection
	switch {
	case arg != "":
		ref, err := parseRef(arg, ns)
		if err != nil {
			return err
		}
		if !ref.cluster && o.allNamespaces {
			return errors.New("a connection cannot be looked up by name across all namespaces: use -n NAMESPACE")
		}
		t, err := getTarget(ctx, c, ref, "")
		if err != nil {
			return err
		}
		if ref.cluster {
			clusterConns = append(clusterConns, *t.cluster)
		} else {
			conns = append(conns, *t.conn)
		}
	default:
		var list sfv1.SalesforceConnectionList
		opts := []client.ListOption{}
		if !o.allNamespaces {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := c.List(ctx, &list, opts...); err != nil {
			return describeAPIError(err)
		}
		conns = list.Items
		if clusterConns, err = listClusterConnections(ctx, c); err != nil {
			return err
		}
	}
	if len(conns) == 0 && arg == "" {
		// Said also when cluster connections follow, so that they are not taken for the
		// namespace's.
		where := fmt.Sprintf(" in namespace %s", ns)
		if o.allNamespaces {
			where = ""
		}
		fmt.Fprintf(env.Streams.ErrOut, "No SalesforceConnections found%s.\n", where)
	}
	wide, now := o.output == "wide", env.Clock.Now()
	if len(conns) > 0 {
		header, rows := statusTable(conns, now, o.allNamespaces, wide)
		if err := writeTable(env.Streams.Out, header, rows); err != nil {
			return err
		}
	}
	if len(clusterConns) == 0 {
		return nil
	}
	if len(conns) > 0 {
		fmt.Fprintf(env.Streams.Out, "\n")
	}
	header, rows := clusterStatusTable(clusterConns, now, wide)
	return writeTable(env.Streams.Out, header, rows)
}

// statusTable is the status table of conns at now, sorted by namespace and name.
func statusTable(conns []sfv1.SalesforceConnection, now time.Time, withNamespace, wide bool) ([]string, [][]string) {
	header := []string{"NAME", "READY", "REASON", "EXPIRES IN", "RENEWS IN", "PRINCIPAL", "APPROVALS"}
	if withNamespace {
		header = append([]string{"NAMESPACE"}, header...)
	}
	if wide {
		header = append(header, "SECRET", "INSTANCE URL")
	}
	header = append(header, "MESSAGE")

	sorted := slices.Clone(conns)
	slices.SortFunc(sorted, func(a, b sfv1.SalesforceConnection) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	rows := make([][]string, 0, len(sorted))
	for i := range sorted {
		rows = append(rows, statusRow(&sorted[i], now, withNamespace, wide))
	}
	return header, rows
}

func statusRow(c *sfv1.SalesforceConnection, now time.Time, withNamespace, wide bool) []string {
	var row []string
	if withNamespace {
		row = append(row, c.Namespace)
	}
	row = append(row, c.Name)
	return append(row, statusCells(&c.Status, now, wide, nil)...)
}

// statusCells are the cells of a row after the name; extra come before the principal.
func statusCells(st *sfv1.SalesforceConnectionStatus, now time.Time, wide bool, extra []string) []string {
	ready, reason, message := "-", "-", ""
	if cond := meta.FindStatusCondition(st.Conditions, sfv1.ConditionReady); cond != nil {
		ready, reason, message = string(cond.Status), cond.Reason, cell(cond.Message)
	}
	renews := "-"
	if st.ExpiresAt != nil {
		renews = renewsIn(now, st.RenewAt)
	}
	row := []string{ready, reason, expiresIn(now, st.ExpiresAt), renews}
	row = append(row, extra...)
	row = append(row, principal(st), approvals(st))
	if wide {
		row = append(row, st.TokenSecretName, st.InstanceURL)
	} else {
		message = truncate(message, messageWidth)
	}
	return append(row, message)
}

// principal is who the token speaks for: the username when known, else the user ID.
func principal(st *sfv1.SalesforceConnectionStatus) string {
	if p := st.Principal; p != nil {
		if p.Username != "" {
			return p.Username
		}
		if p.UserID != "" {
			return p.UserID
		}
	}
	if st.UserID != "" {
		return st.UserID
	}
	return "-"
}

// approvals is "count/limit" of the approvals the cluster holds for the principal.
func approvals(st *sfv1.SalesforceConnectionStatus) string {
	if a := st.Approvals; a != nil {
		return fmt.Sprintf("%d/%d", a.Count, a.Limit)
	}
	return "-"
}

func getConnection(ctx context.Context, c client.Client, ns, name string) (*sfv1.SalesforceConnection, error) {
	var conn sfv1.SalesforceConnection
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &conn)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("SalesforceConnection %q not found in namespace %q", name, ns)
	}
	if err != nil {
		return nil, describeAPIError(err)
	}
	return &conn, nil
}

func describeAPIError(err error) error {
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("this cluster does not know SalesforceConnections: is the sfconn CRD installed? (%w)", err)
	}
	return err
}
