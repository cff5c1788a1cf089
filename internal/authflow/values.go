package authflow

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// Keys of the credentials Secret.
const (
	KeyClientID      = "client_id"
	KeyClientSecret  = "client_secret"
	KeyUsername      = "username"
	KeyPassword      = "password"
	KeySecurityToken = "security_token"
	KeyPrivateKey    = "private_key"
	KeyRefreshToken  = "refresh_token"
)

// values reads keys of a credentials Secret and remembers which are missing, so one
// message can name all of them at once, and which were used, for the inputs hash. Keys
// are contract keys (KeyPrivateKey...); keys says which key of the Secret holds each.
type values struct {
	secret  *corev1.Secret
	keys    keyMap
	missing []string
	used    []string
}

func (v *values) value(key string) string {
	v.used = append(v.used, key)
	return v.peek(key)
}

// peek reads a key without making it an input of the token.
func (v *values) peek(key string) string {
	return strings.TrimSpace(string(v.secret.Data[v.keys.of(key)]))
}

func (v *values) required(key string) string {
	s := v.value(key)
	if s == "" {
		v.missing = append(v.missing, key)
	}
	return s
}

func (v *values) optional(key string) string { return v.value(key) }

// inlineOr prefers a value set in the spec (not a secret) over the Secret's key.
func (v *values) inlineOr(inline, key string) string {
	if inline != "" {
		return inline
	}
	return v.required(key)
}

// inputs finishes a request: the missing keys as one failure, or the inputs with their
// hash. spec lists the spec fields that reach Salesforce, after the flow's name.
func (v *values) inputs(conn *sfv1.SalesforceConnection, req salesforce.LoginRequest, spec ...string) (*Inputs, *failure.Failure) {
	if len(v.missing) > 0 {
		quoted := make([]string, len(v.missing))
		for i, k := range v.missing {
			quoted[i] = v.keys.describe(k)
		}
		return nil, failure.New(failure.Terminal, sfv1.ReasonCredentialsNotFound,
			"credentials Secret %q has no value for key(s) %s", v.secret.Name, strings.Join(quoted, ", "))
	}
	return &Inputs{Request: req, Hash: v.hash(conn, spec), CredentialsVersion: v.secret.ResourceVersion}, nil
}

// hash identifies the inputs of a token: the spec fields that reach Salesforce and the
// values of the Secret keys used. It is stored on the token Secret (same namespace and
// readers as the credentials), never in status, and is a SHA-256 so no value can be read
// back from it. A value is hashed under its contract key, wherever keys reads it from: a
// new value in a remapped key changes the hash, and mapping a key to another that holds
// the same value does not, so it costs no login.
func (v *values) hash(conn *sfv1.SalesforceConnection, spec []string) string {
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:%s;", len(p), p)
		}
	}
	write("v1", trimSlash(conn.Spec.LoginURL))
	write(spec...)
	keys := slices.Clone(v.used)
	slices.Sort(keys)
	for _, k := range keys {
		write(k, string(v.secret.Data[v.keys.of(k)]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// privateKey parses the PEM of a JWT bearer key, with a message that names the key of
// the Secret to fix.
func (v *values) privateKey(pem string) (*rsa.PrivateKey, *failure.Failure) {
	key, err := salesforce.ParseRSAPrivateKey([]byte(pem))
	if err != nil {
		return nil, failure.New(failure.Terminal, sfv1.ReasonInvalidCredentials,
			"key %s of credentials Secret %q is not usable: %s", v.keys.describe(KeyPrivateKey), v.secret.Name, describeKeyError(err))
	}
	return key, nil
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

func trimSlash(u string) string { return strings.TrimSuffix(u, "/") }
