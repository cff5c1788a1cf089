package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
)

// readCredentials reads the credentials Secret into the facts: the inputs of a login, or
// the failure that prevents one. An error is the API server's.
func (r *Reconciler) readCredentials(ctx context.Context, p *pass, f *facts) (*failure.Failure, error) {
	name := p.flow.CredentialsSecret()
	secret, problem, err := r.credentialsSecret(ctx, p.conn, name)
	if secret == nil && problem != nil && problem.Reason == sfv1.ReasonCredentialsNotFound {
		// The Secret itself is missing (a missing key is not waited for: whoever made the
		// Secret made it as it is).
		p.credentialsMissing, problem = credentialsGrace(name, p.conn.Status.CredentialsMissing, p.now, r.CredentialsGracePeriod, problem)
	}
	if err != nil || problem != nil {
		f.inputs = nil
		return problem, err
	}
	in, problem := p.flow.Inputs(secret)
	if problem != nil {
		f.inputs = nil
		return problem, nil
	}
	f.inputs = in
	if f.stored != nil && f.intact && in.Hash == f.stored.InputsHash {
		f.stored.InputsVersion = inputsVersionOf(p.conn.Generation, in.CredentialsVersion)
	}
	return nil, nil
}

// credentialsSecret reads a credentials Secret straight from the API server: the manager
// caches only the Secrets it manages, never every Secret of the cluster. When the Secret
// versions know the Secret's resourceVersion, the API server answers from its watch cache
// with that version or a newer one, instead of a quorum read from etcd. A flow that names
// no Secret gets an empty one.
func (r *Reconciler) credentialsSecret(ctx context.Context, conn *sfv1.SalesforceConnection, name string) (*corev1.Secret, *failure.Failure, error) {
	if name == "" {
		return &corev1.Secret{}, nil, nil
	}
	key := types.NamespacedName{Namespace: conn.Namespace, Name: name}
	var known string
	state := secretversions.Unknown
	if r.SecretVersions != nil {
		known, state = r.SecretVersions.Version(key)
	}
	var secret corev1.Secret
	var err error
	if known != "" {
		err = r.APIReader.Get(ctx, key, &secret, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: known}})
	}
	if known == "" || (err != nil && !apierrors.IsNotFound(err)) {
		// No version known, or an API server whose watch cache is behind: a quorum read.
		err = r.APIReader.Get(ctx, key, &secret)
	}
	if state == secretversions.Unknown {
		r.observeSecret(key, &secret, err)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, failure.New(failure.Terminal, sfv1.ReasonCredentialsNotFound,
			"credentials Secret %q not found in namespace %q", name, conn.Namespace), nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading credentials Secret %q: %w", name, err)
	case owned.IsManaged(&secret):
		// The operator's own Secrets (token, rotated refresh token) are not credentials:
		// refreshing another connection's rotated token would revoke it.
		return nil, failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
			"Secret %q is managed by the operator and cannot be used as credentials", name), nil
	}
	return &secret, nil, nil
}

// inputsVersion names the versions of the spec and credentials Secret a token's inputs
// hash was computed from, read from the caches: "" when the credentials Secret is not
// known to SecretVersions (missing, or none), so that it is read.
func (r *Reconciler) inputsVersion(conn *sfv1.SalesforceConnection, flow authflow.Flow) string {
	name := flow.CredentialsSecret()
	if name == "" {
		return inputsVersionOf(conn.Generation, "")
	}
	if r.SecretVersions == nil {
		return ""
	}
	rv, state := r.SecretVersions.Version(types.NamespacedName{Namespace: conn.Namespace, Name: name})
	if state != secretversions.Present {
		return ""
	}
	return inputsVersionOf(conn.Generation, rv)
}

// observeSecret reports to the Secret versions a Secret read because they did not know
// it: its version, or that it does not exist. Another error says nothing.
func (r *Reconciler) observeSecret(key types.NamespacedName, s *corev1.Secret, err error) {
	switch {
	case r.SecretVersions == nil:
	case apierrors.IsNotFound(err):
		r.SecretVersions.Observe(key, "")
	case err == nil:
		r.SecretVersions.Observe(key, s.ResourceVersion)
	}
}

func inputsVersionOf(generation int64, credentialsVersion string) string {
	return fmt.Sprintf("%d/%s", generation, credentialsVersion)
}

// unreadInputs stand for inputs known to be unchanged since the stored token was checked
// against them: the spec's part of a request, no secret. A login reads the real ones.
func unreadInputs(conn *sfv1.SalesforceConnection, hash, version string) *authflow.Inputs {
	_, credentialsVersion, _ := strings.Cut(version, "/")
	return &authflow.Inputs{Request: salesforce.LoginRequest{LoginURL: authflow.LoginURL(conn)},
		Hash: hash, CredentialsVersion: credentialsVersion, Unread: true}
}
