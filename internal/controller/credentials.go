package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// Keys of the credentials Secret (design.md).
const (
	keyClientID      = "client_id"
	keyClientSecret  = "client_secret"
	keyUsername      = "username"
	keyPassword      = "password"
	keySecurityToken = "security_token"
	keyPrivateKey    = "private_key"
	keyRefreshToken  = "refresh_token"
)

// loginInputs is everything a login needs, read from the spec and the credentials Secret.
// It holds secrets: never log it.
type loginInputs struct {
	request salesforce.LoginRequest
	// hash identifies the inputs: a token obtained from other inputs must be replaced.
	hash string
	// credentialsVersion is the credentials Secret's resourceVersion.
	credentialsVersion string
	// introspectionSecret is the client secret that may introspect a new token (empty:
	// its expiry follows spec.sessionTimeout). The password flow's tokens "cannot be
	// introspected"; a JWT bearer credentials Secret may add a client_secret for this
	// alone, which the login never sends and the inputs hash leaves out, so that adding
	// it costs no login.
	introspectionSecret string
}

// inputsProblem says why no login can be attempted with what the user gave.
type inputsProblem struct {
	reason  string
	message string
	// credentialsVersion is the credentials Secret's resourceVersion, empty when missing.
	credentialsVersion string
}

// credentialsSecretName returns the credentials Secret the spec names.
func credentialsSecretName(spec *sfv1.SalesforceConnectionSpec) string {
	a := spec.Auth
	switch {
	case a.JWTBearer != nil:
		return a.JWTBearer.CredentialsSecretRef.Name
	case a.Password != nil:
		return a.Password.CredentialsSecretRef.Name
	case a.RefreshToken != nil:
		return a.RefreshToken.CredentialsSecretRef.Name
	case a.ClientCredentials != nil:
		return a.ClientCredentials.CredentialsSecretRef.Name
	case a.DeviceLogin != nil && a.DeviceLogin.CredentialsSecretRef != nil:
		return a.DeviceLogin.CredentialsSecretRef.Name
	}
	return ""
}

// readInputs reads the credentials Secret straight from the API server: the manager caches
// only the Secrets it manages, never every Secret of the cluster. knownVersion, when set, is
// a resourceVersion of the Secret the operator has already seen: the API server then
// answers from its watch cache, with that version or a newer one, instead of a quorum read
// from etcd.
func readInputs(ctx context.Context, reader client.Reader, conn *sfv1.SalesforceConnection, knownVersion string) (*loginInputs, *inputsProblem) {
	name := credentialsSecretName(&conn.Spec)
	if name == "" {
		// A device login needs no Secret when the connected app needs no client secret.
		return buildInputs(conn, &corev1.Secret{})
	}
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: conn.Namespace, Name: name}
	var err error
	if knownVersion != "" {
		err = reader.Get(ctx, key, &secret, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: knownVersion}})
	}
	if knownVersion == "" || (err != nil && !apierrors.IsNotFound(err)) {
		// No version known, or an API server whose watch cache is behind: a quorum read.
		err = reader.Get(ctx, key, &secret)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, &inputsProblem{reason: sfv1.ReasonCredentialsNotFound,
			message: fmt.Sprintf("credentials Secret %q not found in namespace %q", name, conn.Namespace)}
	case err != nil:
		// Not a problem of the inputs: the caller retries with backoff.
		return nil, &inputsProblem{reason: "", message: fmt.Sprintf("reading credentials Secret %q: %v", name, err)}
	}
	if secret.Labels[LabelManagedBy] == ManagedByValue {
		// The operator's own Secrets (token, rotated refresh token) are not credentials:
		// refreshing another connection's rotated token would revoke it.
		return nil, &inputsProblem{reason: sfv1.ReasonInvalidSpec, credentialsVersion: secret.ResourceVersion,
			message: fmt.Sprintf("Secret %q is managed by the operator and cannot be used as credentials", name)}
	}
	in, problem := buildInputs(conn, &secret)
	if problem != nil {
		problem.credentialsVersion = secret.ResourceVersion
		return nil, problem
	}
	in.credentialsVersion = secret.ResourceVersion
	return in, nil
}

// inputsVersion names the versions of the spec and credentials Secret a token's inputs
// hash was computed from, read from the caches: "" when the credentials Secret is not
// known to SecretVersions (missing, or none), so that it is read.
func (r *Reconciler) inputsVersion(conn *sfv1.SalesforceConnection) string {
	name := credentialsSecretName(&conn.Spec)
	if name == "" {
		return inputsVersionOf(conn.Generation, "")
	}
	if r.SecretVersions == nil {
		return ""
	}
	rv, ok := r.SecretVersions.Version(types.NamespacedName{Namespace: conn.Namespace, Name: name})
	if !ok {
		return ""
	}
	return inputsVersionOf(conn.Generation, rv)
}

func inputsVersionOf(generation int64, credentialsVersion string) string {
	return fmt.Sprintf("%d/%s", generation, credentialsVersion)
}

// unreadInputs stands for inputs known to be unchanged since the stored token was checked
// against them: the spec's part of a request, no secret. A login reads the real ones.
func unreadInputs(conn *sfv1.SalesforceConnection, hash, version string) *loginInputs {
	_, credentialsVersion, _ := strings.Cut(version, "/")
	return &loginInputs{request: salesforce.LoginRequest{LoginURL: loginURLOf(conn)}, hash: hash, credentialsVersion: credentialsVersion}
}

func loginURLOf(conn *sfv1.SalesforceConnection) string {
	if u := strings.TrimSuffix(conn.Spec.LoginURL, "/"); u != "" {
		return u
	}
	return "https://login.salesforce.com"
}

// buildInputs turns the spec and credentials Secret into a login request. Pure: table tests
// cover every grant and every missing or unusable key.
func buildInputs(conn *sfv1.SalesforceConnection, secret *corev1.Secret) (*loginInputs, *inputsProblem) {
	s := secretValues{secret: secret}
	req := salesforce.LoginRequest{LoginURL: loginURLOf(conn)}
	a := conn.Spec.Auth
	switch {
	case a.JWTBearer != nil:
		req.Grant = salesforce.GrantJWTBearer
		req.ClientID = s.inlineOr(a.JWTBearer.ClientID, keyClientID)
		req.Username = s.inlineOr(a.JWTBearer.Username, keyUsername)
		req.Audience = a.JWTBearer.Audience
		if a.JWTBearer.GenerateKey {
			// The operator's own key signs (see ensureJWTKey); the Secret holds none.
			break
		}
		if pem := s.required(keyPrivateKey); pem != "" {
			key, err := salesforce.ParseRSAPrivateKey([]byte(pem))
			if err != nil {
				return nil, &inputsProblem{reason: sfv1.ReasonInvalidCredentials,
					message: fmt.Sprintf("key %q of credentials Secret %q is not usable: %s", keyPrivateKey, secret.Name, describeKeyError(err))}
			}
			req.PrivateKey = key
		}
	case a.Password != nil:
		req.Grant = salesforce.GrantPassword
		req.ClientID = s.inlineOr(a.Password.ClientID, keyClientID)
		req.ClientSecret = s.required(keyClientSecret)
		req.Username = s.inlineOr(a.Password.Username, keyUsername)
		req.Password = s.required(keyPassword)
		req.SecurityToken = s.optional(keySecurityToken)
	case a.RefreshToken != nil:
		req.Grant = salesforce.GrantRefreshToken
		req.ClientID = s.inlineOr(a.RefreshToken.ClientID, keyClientID)
		req.ClientSecret = s.optional(keyClientSecret)
		req.RefreshToken = s.required(keyRefreshToken)
	case a.ClientCredentials != nil:
		req.Grant = salesforce.GrantClientCredentials
		req.ClientID = s.inlineOr(a.ClientCredentials.ClientID, keyClientID)
		req.ClientSecret = s.required(keyClientSecret)
	case a.DeviceLogin != nil:
		// Once a person approved, a device login is a refresh token flow whose token the
		// operator keeps; the marker finds it in the rotation state.
		req.Grant = salesforce.GrantRefreshToken
		req.ClientID = s.inlineOr(a.DeviceLogin.ClientID, keyClientID)
		req.ClientSecret = s.optional(keyClientSecret)
		req.Username = a.DeviceLogin.Username
		req.RefreshToken = deviceMarker(conn)
	default:
		return nil, &inputsProblem{reason: sfv1.ReasonInvalidSpec, message: "spec.auth must set exactly one of jwtBearer, password, refreshToken, clientCredentials or deviceLogin"}
	}
	if p := s.problem(); p != nil {
		return nil, p
	}
	in := &loginInputs{request: req, hash: s.hash(conn)}
	switch req.Grant {
	case salesforce.GrantPassword:
	case salesforce.GrantJWTBearer:
		in.introspectionSecret = strings.TrimSpace(string(secret.Data[keyClientSecret]))
	default:
		in.introspectionSecret = req.ClientSecret
	}
	return in, nil
}

// secretValues reads keys of a credentials Secret and remembers which are missing, so one
// message can name all of them at once.
type secretValues struct {
	secret  *corev1.Secret
	missing []string
	used    []string
}

func (s *secretValues) value(key string) string {
	s.used = append(s.used, key)
	return strings.TrimSpace(string(s.secret.Data[key]))
}

func (s *secretValues) required(key string) string {
	v := s.value(key)
	if v == "" {
		s.missing = append(s.missing, key)
	}
	return v
}

func (s *secretValues) optional(key string) string { return s.value(key) }

// inlineOr prefers a value set in the spec (not a secret) over the Secret's key.
func (s *secretValues) inlineOr(inline, key string) string {
	if inline != "" {
		return inline
	}
	return s.required(key)
}

func (s *secretValues) problem() *inputsProblem {
	if len(s.missing) == 0 {
		return nil
	}
	return &inputsProblem{reason: sfv1.ReasonCredentialsNotFound,
		message: fmt.Sprintf("credentials Secret %q has no value for key(s) %s", s.secret.Name, strings.Join(quoteAll(s.missing), ", "))}
}

// hash identifies the inputs of a token: the spec fields that reach Salesforce and the
// values of the Secret keys used. It is stored on the token Secret (same namespace and
// readers as the credentials), never in status, and is a SHA-256 so no value can be read
// back from it.
func (s *secretValues) hash(conn *sfv1.SalesforceConnection) string {
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:%s;", len(p), p)
		}
	}
	a := conn.Spec.Auth
	write("v1", strings.TrimSuffix(conn.Spec.LoginURL, "/"))
	switch {
	case a.JWTBearer != nil:
		write("jwtBearer", a.JWTBearer.ClientID, a.JWTBearer.Username, a.JWTBearer.Audience)
	case a.Password != nil:
		write("password", a.Password.ClientID, a.Password.Username)
	case a.RefreshToken != nil:
		write("refreshToken", a.RefreshToken.ClientID)
	case a.ClientCredentials != nil:
		write("clientCredentials", a.ClientCredentials.ClientID)
	case a.DeviceLogin != nil:
		write("deviceLogin", a.DeviceLogin.ClientID, a.DeviceLogin.Username, a.DeviceLogin.Scope)
	}
	keys := append([]string(nil), s.used...)
	sort.Strings(keys)
	for _, k := range keys {
		write(k, string(s.secret.Data[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func quoteAll(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%q", k)
	}
	return out
}

// describeKeyError keeps the parse error's own words; ParseRSAPrivateKey never puts key
// material in them.
func describeKeyError(err error) string {
	var e *salesforce.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}
