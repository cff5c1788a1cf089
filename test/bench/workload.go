package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// createWorkers is how many objects the harness creates at once.
const createWorkers = 16

// workload describes a set of connections: all of one org and app, and of the bench user
// unless usernames spreads them over several users.
type workload struct {
	namespace      string
	n              int
	grant          string
	sessionTimeout time.Duration
	renewBefore    time.Duration
	sf             *salesforce
	usernames      []string
}

// username is the user connection i logs in as.
func (w *workload) username(i int) string {
	if len(w.usernames) == 0 {
		return w.sf.username
	}
	return w.usernames[i%len(w.usernames)]
}

func connectionName(i int) string  { return fmt.Sprintf("conn-%05d", i) }
func credentialsName(i int) string { return fmt.Sprintf("conn-%05d-credentials", i) }

func (w *workload) credentials(i int) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: credentialsName(i), Namespace: w.namespace}}
	switch w.grant {
	case grantJWT:
		s.StringData = map[string]string{"private_key": w.sf.privateKeyPEM}
	case grantPassword:
		s.StringData = map[string]string{"client_secret": w.sf.clientSecret, "password": w.sf.password}
	default:
		s.StringData = map[string]string{"client_secret": w.sf.clientSecret}
	}
	return s
}

func (w *workload) connection(i int) *sfv1.SalesforceConnection {
	c := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName(i), Namespace: w.namespace},
		Spec: sfv1.SalesforceConnectionSpec{
			LoginURL:       w.sf.url(),
			SessionTimeout: &metav1.Duration{Duration: w.sessionTimeout},
		},
	}
	if w.renewBefore > 0 {
		c.Spec.RenewBefore = &metav1.Duration{Duration: w.renewBefore}
	}
	ref := sfv1.SecretReference{Name: credentialsName(i)}
	switch w.grant {
	case grantJWT:
		c.Spec.Auth.JWTBearer = &sfv1.JWTBearerAuth{ClientID: w.sf.clientID, Username: w.username(i), CredentialsSecretRef: ref}
	case grantPassword:
		c.Spec.Auth.Password = &sfv1.PasswordAuth{ClientID: w.sf.clientID, Username: w.username(i), CredentialsSecretRef: ref}
	default:
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{ClientID: w.sf.clientID, CredentialsSecretRef: ref}
	}
	return c
}

func (w *workload) createCredentials(ctx context.Context, c client.Client) error {
	return forEach(ctx, w.n, createWorkers, func(ctx context.Context, i int) error {
		return c.Create(ctx, w.credentials(i))
	})
}

func (w *workload) createConnections(ctx context.Context, c client.Client) error {
	return forEach(ctx, w.n, createWorkers, func(ctx context.Context, i int) error {
		return c.Create(ctx, w.connection(i))
	})
}

// listConnections lists the namespace's connections a page at a time.
func listConnections(ctx context.Context, c client.Client, namespace string) ([]sfv1.SalesforceConnection, error) {
	var all []sfv1.SalesforceConnection
	cont := ""
	for {
		var list sfv1.SalesforceConnectionList
		if err := c.List(ctx, &list, client.InNamespace(namespace), client.Limit(1000), client.Continue(cont)); err != nil {
			return nil, err
		}
		all = append(all, list.Items...)
		if cont = list.Continue; cont == "" {
			return all, nil
		}
	}
}

// readyCondition is the connection's Ready condition when it is True for the current
// spec, else nil.
func readyCondition(c *sfv1.SalesforceConnection) *metav1.Condition {
	cond := apimeta.FindStatusCondition(c.Status.Conditions, sfv1.ConditionReady)
	if cond == nil || cond.Status != metav1.ConditionTrue || c.Status.ObservedGeneration != c.Generation {
		return nil
	}
	return cond
}

// waitAll polls the list of the namespace's connections until want holds for all n; it
// returns the last list.
func waitAll(ctx context.Context, c client.Client, namespace string, n int, timeout time.Duration, what string,
	want func(*sfv1.SalesforceConnection) bool) ([]sfv1.SalesforceConnection, error) {
	var items []sfv1.SalesforceConnection
	err := poll(ctx, what, pollInterval(n), timeout, func(ctx context.Context) (bool, string, error) {
		list, err := listConnections(ctx, c, namespace)
		if err != nil {
			return false, err.Error(), nil
		}
		count := 0
		for i := range list {
			if want(&list[i]) {
				count++
			}
		}
		items = list
		return count >= n && len(list) == n, fmt.Sprintf("%d of %d", count, n), nil
	})
	return items, err
}

// readyLatencies are, per connection, the seconds from creationTimestamp to the Ready
// condition's lastTransitionTime: both whole seconds, so each latency is within a second.
func readyLatencies(items []sfv1.SalesforceConnection) []float64 {
	var out []float64
	for i := range items {
		if cond := readyCondition(&items[i]); cond != nil {
			out = append(out, cond.LastTransitionTime.Sub(items[i].CreationTimestamp.Time).Seconds())
		}
	}
	sort.Float64s(out)
	return out
}

// percentile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// createUnrelatedSecrets creates n Secrets the operator has nothing to do with: 1 KiB of
// data each, spread over a few namespaces, like the Helm releases and application Secrets
// of a busy cluster.
func createUnrelatedSecrets(ctx context.Context, cl *cluster, n, namespaces int) error {
	for k := range namespaces {
		if err := cl.createNamespace(ctx, fmt.Sprintf("unrelated-%d", k)); err != nil {
			return err
		}
	}
	return forEach(ctx, n, createWorkers, func(ctx context.Context, i int) error {
		data := make([]byte, 1024)
		_, _ = rand.Read(data)
		return cl.admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("unrelated-%05d", i), Namespace: fmt.Sprintf("unrelated-%d", i%namespaces),
				Labels: map[string]string{"app.kubernetes.io/name": "unrelated"},
			},
			Data: map[string][]byte{"payload": data, "config.yaml": []byte("replicas: 3\nimage: example/app:1.0\n")},
		})
	})
}
