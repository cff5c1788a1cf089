package authflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/jwtkey"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// AwaitingAdminRetry is how often a connection waiting for a Salesforce admin tries
// again: a person's work takes minutes, and each try is a failed login.
const AwaitingAdminRetry = 5 * time.Minute

// awaitingAdminEvery says AwaitingAdminRetry as a spec would, "5m".
func awaitingAdminEvery() string { return strings.TrimSuffix(AwaitingAdminRetry.String(), "0s") }

// Keys are a connection's generated key pair: the current key, and the next one while a
// rotation is under way.
type Keys interface {
	// CurrentKey and NextKey are PEM private keys; NextKey is nil without a rotation.
	CurrentKey() []byte
	NextKey() []byte
	// PromoteNext makes the next key the current one, once Salesforce accepted it.
	PromoteNext(ctx context.Context) error
}

// KeySecretName is the Secret holding a connection's generated key.
func KeySecretName(conn *sfv1.SalesforceConnection) string {
	return owned.DerivedName(owned.BaseName(conn), "-jwt")
}

// CertificateConfigMapName is the ConfigMap publishing a generated key's certificate.
func CertificateConfigMapName(conn *sfv1.SalesforceConnection) string {
	return owned.DerivedName(owned.BaseName(conn), "-jwt-certificate")
}

// generatedKey is the JWT bearer flow with a key the operator generated and a Salesforce
// admin registered. Salesforce's refusals are steps the admin has not taken yet.
type generatedKey struct {
	jwtBearer
}

func (f *generatedKey) Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure) {
	return f.inputs(secret, false)
}

// Login signs with the current key, and with the next one when Salesforce refuses the
// current: an admin who uploaded the next certificate has replaced the current one (a
// connected app holds one), and the next key then becomes current.
func (f *generatedKey) Login(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	key, err := salesforce.ParseRSAPrivateKey(env.Keys.CurrentKey())
	if err != nil {
		return nil, fmt.Errorf("the generated key: %w", err)
	}
	req := in.Request
	req.PrivateKey = key
	tok, err := login(ctx, env, req)
	if err == nil {
		return &Result{Token: tok}, nil
	}
	if next := env.Keys.NextKey(); next != nil && salesforce.ClassOf(err) == salesforce.Terminal {
		if nextKey, perr := salesforce.ParseRSAPrivateKey(next); perr == nil {
			req.PrivateKey = nextKey
			// On a refusal of the next key too, the first refusal says more: the current
			// key is the one expected to work.
			if tok, nextErr := login(ctx, env, req); nextErr == nil {
				env.Log.Info("Salesforce accepted the next JWT key; it is now the current one")
				if err := env.Keys.PromoteNext(ctx); err != nil {
					return nil, err
				}
				return &Result{Token: tok}, nil
			}
		}
	}
	return nil, f.refused(err)
}

// refused turns every refusal into the step the admin has still to take, not only the
// refusals that name a step: the key is the operator's own and the rest is set in
// Salesforce, so nothing in the cluster can fix it, and a terminal failure would wait for
// a change that never comes.
func (f *generatedKey) refused(err error) error {
	var e *salesforce.Error
	if !errors.As(err, &e) || e.Class != salesforce.Terminal {
		return f.base.refused(err, "")
	}
	conn := f.conn
	for i, s := range adminSteps {
		if e.Code != s.code || (s.description != "" && !strings.EqualFold(strings.TrimSpace(e.Description), s.description)) {
			continue
		}
		return failure.New(failure.WaitingForPerson, sfv1.ReasonAwaitingAdmin,
			"Waiting for a Salesforce admin: Salesforce answered %q, so step %d is not done yet: %s "+
				"`kubectl sfconn admin-instructions %s -n %s` prints every step with the certificate. The operator tries again every %s, or at once after `kubectl sfconn renew %s -n %s`",
			e.Code+": "+e.Description, i+1, adminStep(conn, i), conn.Name, conn.Namespace, awaitingAdminEvery(), conn.Name, conn.Namespace)
	}
	return failure.New(failure.WaitingForPerson, sfv1.ReasonAwaitingAdmin,
		"Waiting for a Salesforce admin: Salesforce refused the login with the generated key (%v). "+
			"Check the connected app, the certificate from ConfigMap %s and the user's pre-authorization: `kubectl sfconn admin-instructions %s -n %s` prints every step. "+
			"The operator tries again every %s, or at once after `kubectl sfconn renew %s -n %s`",
		err, CertificateConfigMapName(conn), conn.Name, conn.Namespace, awaitingAdminEvery(), conn.Name, conn.Namespace)
}

// Steps an admin takes, each named by the Salesforce error its absence causes
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval).
var adminSteps = []struct {
	code, description, step string
}{
	{"invalid_client_id", "", "Create the connected app (Setup → App Manager → New Connected App; or an External Client App) with OAuth enabled and the scopes the workloads need (at least \"api\" and \"refresh_token, offline_access\"), or check that the consumer key in the connection is this app's. A new app can take a few minutes to reach every Salesforce server."},
	{"invalid_grant", "invalid assertion", "In the connected app, tick \"Use digital signatures\" and upload the certificate from ConfigMap %s (key tls.crt). Upload next.crt instead when the ConfigMap has one."},
	{"invalid_grant", "user hasn't approved this consumer", "In the connected app's policies (Manage → Edit Policies), set Permitted Users to \"Admin approved users are pre-authorized\", and assign the profile or a permission set of user %s to the app."},
}

// adminStep is step i of adminSteps, with this connection's names in it.
func adminStep(conn *sfv1.SalesforceConnection, i int) string {
	switch i {
	case 1:
		return fmt.Sprintf(adminSteps[i].step, CertificateConfigMapName(conn))
	case 2:
		return fmt.Sprintf(adminSteps[i].step, orDefault(conn.Spec.Auth.JWTBearer.Username, "(the connection's username)"))
	}
	return adminSteps[i].step
}

// AdminInstructions are the steps a Salesforce admin takes for a generated key whose
// current certificate is cert (nil before there is one).
func AdminInstructions(conn *sfv1.SalesforceConnection, cert *jwtkey.Certificate) string {
	var b strings.Builder
	jwt := conn.Spec.Auth.JWTBearer
	fmt.Fprintf(&b, "SalesforceConnection %s/%s signs in with the OAuth 2.0 JWT bearer flow, with a key the operator generated.\n", conn.Namespace, conn.Name)
	ref := jwt.CredentialsSecretRef
	fmt.Fprintf(&b, "Consumer key: %s\nUser: %s\nLogin URL: %s\n", orDefault(jwt.ClientID, "(key "+SecretKeyOf(ref, KeyClientID)+" of Secret "+ref.Name+")"),
		orDefault(jwt.Username, "(key "+SecretKeyOf(ref, KeyUsername)+" of Secret "+ref.Name+")"), LoginURL(conn))
	if cert != nil {
		fmt.Fprintf(&b, "Certificate: ConfigMap %s, key tls.crt, SHA-256 fingerprint %s, valid until %s\n",
			CertificateConfigMapName(conn), cert.Fingerprint, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	b.WriteString("\nA Salesforce admin:\n")
	for i := range adminSteps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, adminStep(conn, i))
	}
	return b.String()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
