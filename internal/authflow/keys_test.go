package authflow

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
)

func TestCheckKeys(t *testing.T) {
	for _, tt := range []struct {
		name    string
		keys    map[string]sfv1.SecretKeyName
		mention []string // empty: the map is accepted
	}{
		{name: "none"},
		{name: "cert-manager key", keys: map[string]sfv1.SecretKeyName{"private_key": "tls.key"}},
		{name: "identity", keys: map[string]sfv1.SecretKeyName{"client_id": "client_id"}},
		{name: "swap of two mapped keys", keys: map[string]sfv1.SecretKeyName{"client_id": "username", "username": "client_id"}},
		{name: "every key", keys: map[string]sfv1.SecretKeyName{"private_key": "a", "client_id": "b", "client_secret": "c",
			"username": "d", "password": "e", "security_token": "f", "refresh_token": "g"}},
		{name: "unknown contract key", keys: map[string]sfv1.SecretKeyName{"tls.key": "private_key"},
			mention: []string{`"tls.key" is not a key the operator reads`}},
		{name: "invalid Secret key", keys: map[string]sfv1.SecretKeyName{"private_key": "tls key"},
			mention: []string{`private_key: "tls key" is not a valid Secret key`}},
		{name: "empty Secret key", keys: map[string]sfv1.SecretKeyName{"private_key": ""},
			mention: []string{`private_key: "" is not a valid Secret key`}},
		{name: "too long", keys: map[string]sfv1.SecretKeyName{"private_key": sfv1.SecretKeyName(strings.Repeat("k", 254))},
			mention: []string{"at most 253"}},
		{name: "two keys read one Secret key", keys: map[string]sfv1.SecretKeyName{"client_id": "id", "username": "id"},
			mention: []string{`client_id: Secret key "id" is also read as username`, `username: Secret key "id" is also read as client_id`}},
		{name: "mapped onto a key read under its own name", keys: map[string]sfv1.SecretKeyName{"username": "client_id"},
			mention: []string{`username: Secret key "client_id" is also read as client_id`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fl := checkKeys("creds", tt.keys)
			if len(tt.mention) == 0 {
				if fl != nil {
					t.Fatalf("refused: %s", fl.Message)
				}
				return
			}
			if fl == nil || fl.Reason != sfv1.ReasonInvalidSpec || fl.Class != failure.Terminal {
				t.Fatalf("failure = %+v, want a terminal InvalidSpec", fl)
			}
			for _, m := range tt.mention {
				if !strings.Contains(fl.Message, m) {
					t.Errorf("message %q does not say %q", fl.Message, m)
				}
			}
		})
	}
}

func jwtConn(ref sfv1.SecretReference, generate bool) *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns"},
		Spec: sfv1.SalesforceConnectionSpec{LoginURL: "https://login.salesforce.com", Auth: sfv1.AuthSpec{
			JWTBearer: &sfv1.JWTBearerAuth{ClientID: "cid", Username: "u@x", GenerateKey: generate, CredentialsSecretRef: ref}}}}
}

// tlsSecret is a Secret as cert-manager writes it.
func tlsSecret(keyPEM string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "crm-cert"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.key": []byte(keyPEM), "tls.crt": []byte("cert"), "ca.crt": []byte("ca")}}
}

// A JWT key read from a cert-manager Secret through keys: the login signs with it, a
// missing or bad key is named as the key of the Secret to fix, and the hash follows the
// value of the remapped key.
func TestKeysRemapTheJWTKey(t *testing.T) {
	rsaPEM, ecPEM := testKeys(t)
	otherPEM, _ := testKeys(t)
	ref := sfv1.SecretReference{Name: "crm-cert", Keys: map[string]sfv1.SecretKeyName{"private_key": "tls.key"}}
	conn := jwtConn(ref, false)

	in, fl := buildInputs(conn, tlsSecret(rsaPEM))
	if fl != nil {
		t.Fatalf("inputs: %s", fl.Message)
	}
	if in.Request.PrivateKey == nil {
		t.Fatal("no private key read from tls.key")
	}

	// The same key under its own name gives the same hash: a remap costs no login.
	plain, fl := buildInputs(jwtConn(sfv1.SecretReference{Name: "crm-cert"}, false),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "crm-cert"}, Data: map[string][]byte{"private_key": []byte(rsaPEM)}})
	if fl != nil {
		t.Fatal(fl.Message)
	}
	if plain.Hash != in.Hash {
		t.Errorf("hash with keys %s, without %s: want the same for the same value", in.Hash, plain.Hash)
	}
	renewed, fl := buildInputs(conn, tlsSecret(otherPEM))
	if fl != nil {
		t.Fatal(fl.Message)
	}
	if renewed.Hash == in.Hash {
		t.Error("a new value of tls.key did not change the hash")
	}
	unused := tlsSecret(rsaPEM)
	unused.Data["private_key"] = []byte(otherPEM)
	if again, _ := buildInputs(conn, unused); again == nil || again.Hash != in.Hash {
		t.Error("the unmapped private_key key changed the hash: only tls.key is read")
	}

	missing := tlsSecret("")
	delete(missing.Data, "tls.key")
	missing.Data["private_key"] = []byte(rsaPEM)
	_, fl = buildInputs(conn, missing)
	if fl == nil || fl.Reason != sfv1.ReasonCredentialsNotFound || !strings.Contains(fl.Message, `has no value for key(s) "tls.key" (private_key)`) {
		t.Errorf("missing tls.key: %+v", fl)
	}
	_, fl = buildInputs(conn, tlsSecret(ecPEM))
	if fl == nil || fl.Reason != sfv1.ReasonInvalidCredentials || !strings.Contains(fl.Message, `key "tls.key" (private_key) of credentials Secret "crm-cert"`) {
		t.Errorf("EC key in tls.key: %+v", fl)
	}
	if fl != nil && strings.Contains(fl.Message, "PRIVATE KEY") {
		t.Errorf("message quotes the key: %s", fl.Message)
	}
}

// keys applies to every key a flow reads, the optional ones and the client secret read
// for introspection only too.
func TestKeysRemapEveryRead(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string][]byte{
		"id": []byte("cid"), "secret": []byte("cs"), "user": []byte("u@x"), "pass": []byte("pw"), "token": []byte("st"), "rt": []byte("r"),
		"client_secret": []byte("wrong")}}
	ref := sfv1.SecretReference{Name: "c", Keys: map[string]sfv1.SecretKeyName{"client_id": "id", "client_secret": "secret",
		"username": "user", "password": "pass", "security_token": "token", "refresh_token": "rt"}}
	conn := func(a sfv1.AuthSpec) *sfv1.SalesforceConnection {
		return &sfv1.SalesforceConnection{Spec: sfv1.SalesforceConnectionSpec{LoginURL: "https://login.salesforce.com", Auth: a}}
	}

	in, fl := buildInputs(conn(sfv1.AuthSpec{Password: &sfv1.PasswordAuth{CredentialsSecretRef: ref}}), s)
	if fl != nil {
		t.Fatal(fl.Message)
	}
	if r := in.Request; r.ClientID != "cid" || r.ClientSecret != "cs" || r.Username != "u@x" || r.Password != "pw" || r.SecurityToken != "st" {
		t.Errorf("password request read the wrong keys")
	}
	in, fl = buildInputs(conn(sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{CredentialsSecretRef: ref}}), s)
	if fl != nil {
		t.Fatal(fl.Message)
	}
	if in.Request.RefreshToken != "r" || in.IntrospectionSecret != "cs" {
		t.Errorf("refresh token request read the wrong keys")
	}
	in, fl = buildInputs(jwtConn(sfv1.SecretReference{Name: "c", Keys: map[string]sfv1.SecretKeyName{"client_secret": "secret"}}, true), s)
	if fl != nil {
		t.Fatal(fl.Message)
	}
	if in.IntrospectionSecret != "cs" {
		t.Errorf("introspection secret read from the wrong key")
	}
	device := &sfv1.DeviceLoginAuth{Username: "u@x", CredentialsSecretRef: &ref}
	in, fl = buildInputs(conn(sfv1.AuthSpec{DeviceLogin: device}), s)
	if fl != nil {
		t.Fatal(fl.Message)
	}
	if in.Request.ClientID != "cid" || in.Request.ClientSecret != "cs" {
		t.Errorf("device login read the wrong keys")
	}
}

// generateKey signs with the operator's own key: a keys map naming private_key is a
// mistake the spec must fix, and the other keys are still read through keys.
func TestKeysWithGenerateKey(t *testing.T) {
	_, fl := For(jwtConn(sfv1.SecretReference{Name: "c", Keys: map[string]sfv1.SecretKeyName{"private_key": "tls.key"}}, true))
	if fl == nil || fl.Reason != sfv1.ReasonInvalidSpec || !strings.Contains(fl.Message, "cannot map private_key") {
		t.Errorf("failure = %+v, want InvalidSpec", fl)
	}
	conn := jwtConn(sfv1.SecretReference{Name: "c", Keys: map[string]sfv1.SecretKeyName{"client_id": "id"}}, true)
	conn.Spec.Auth.JWTBearer.ClientID = ""
	if got := AdminInstructions(conn, nil); !strings.Contains(got, "(key id of Secret c)") {
		t.Errorf("instructions do not name the remapped key:\n%s", got)
	}
	_, fl = For(jwtConn(sfv1.SecretReference{Name: "c", Keys: map[string]sfv1.SecretKeyName{"client_id": "x", "username": "x"}}, false))
	if fl == nil || fl.Reason != sfv1.ReasonInvalidSpec {
		t.Errorf("an invalid keys map: %+v, want InvalidSpec", fl)
	}
}
