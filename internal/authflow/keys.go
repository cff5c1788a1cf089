package authflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
)

// ContractKeys are the keys of a credentials Secret the flows read, and so the only keys
// credentialsSecretRef.keys may map.
var ContractKeys = []string{KeyPrivateKey, KeyClientID, KeyClientSecret, KeyUsername, KeyPassword, KeySecurityToken, KeyRefreshToken}

// secretKeyPattern is what the API server accepts as a key of a Secret's data.
var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// keyMap is credentialsSecretRef.keys: which key of the Secret holds each contract key.
type keyMap map[string]sfv1.SecretKeyName

// of is the key of the Secret that holds contract key k.
func (m keyMap) of(k string) string {
	if s, ok := m[k]; ok {
		return string(s)
	}
	return k
}

// describe names a contract key as the user must look for it in the Secret: the Secret
// key, followed by the contract key when it is mapped, `"tls.key" (private_key)`.
func (m keyMap) describe(k string) string {
	if s := m.of(k); s != k {
		return fmt.Sprintf("%q (%s)", s, k)
	}
	return fmt.Sprintf("%q", k)
}

// SecretKeyOf is the key of ref's Secret that holds contract key k.
func SecretKeyOf(ref sfv1.SecretReference, k string) string { return keyMap(ref.Keys).of(k) }

// checkKeys refuses a keys map the API server's validation refuses too (CEL on
// SecretReference.keys): a connection stored before that validation existed, or one the
// validation let through, gets InvalidSpec instead of logging in with the wrong values.
// Two contract keys reading one Secret key is always a mistake: no flow takes the same
// value for two of them. Pure.
func checkKeys(secret string, keys map[string]sfv1.SecretKeyName) *failure.Failure {
	if len(keys) == 0 {
		return nil
	}
	m := keyMap(keys)
	readers := map[string][]string{}
	for _, k := range ContractKeys {
		readers[m.of(k)] = append(readers[m.of(k)], k)
	}
	var problems []string
	for _, k := range sortedKeys(keys) {
		v := string(keys[k])
		switch {
		case !slices.Contains(ContractKeys, k):
			problems = append(problems, fmt.Sprintf("%q is not a key the operator reads (%s)", k, strings.Join(ContractKeys, ", ")))
		case len(v) > 253 || !secretKeyPattern.MatchString(v):
			problems = append(problems, fmt.Sprintf("%s: %q is not a valid Secret key (letters, digits, '-', '_' and '.', at most 253)", k, v))
		case len(readers[v]) > 1:
			problems = append(problems, fmt.Sprintf("%s: Secret key %q is also read as %s", k, v, strings.Join(slices.DeleteFunc(slices.Clone(readers[v]), func(s string) bool { return s == k }), ", ")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
		"credentialsSecretRef.keys of Secret %q is invalid: %s", secret, strings.Join(problems, "; "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
