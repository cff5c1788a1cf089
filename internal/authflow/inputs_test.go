package authflow

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

func testKeys(t *testing.T) (rsaPEM, ecPEM string) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// buildInputs is what the controller does with a connection and its credentials Secret.
func buildInputs(conn *sfv1.SalesforceConnection, secret *corev1.Secret) (*Inputs, *failure.Failure) {
	flow, fl := For(conn)
	if fl != nil {
		return nil, fl
	}
	return flow.Inputs(secret)
}

func TestBuildInputs(t *testing.T) {
	rsaPEM, ecPEM := testKeys(t)
	conn := func(auth sfv1.AuthSpec) *sfv1.SalesforceConnection {
		return &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns"},
			Spec: sfv1.SalesforceConnectionSpec{LoginURL: "https://login.salesforce.com/", Auth: auth}}
	}
	ref := sfv1.SecretReference{Name: "creds"}
	secret := func(kv ...string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{}}
		for i := 0; i < len(kv); i += 2 {
			s.Data[kv[i]] = []byte(kv[i+1])
		}
		return s
	}
	tests := []struct {
		name    string
		conn    *sfv1.SalesforceConnection
		secret  *corev1.Secret
		grant   salesforce.Grant
		reason  string
		mention []string // words the problem message must contain
		check   func(t *testing.T, r salesforce.LoginRequest)
	}{
		{name: "password with security token", conn: conn(sfv1.AuthSpec{Password: &sfv1.PasswordAuth{CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid", "client_secret", "cs", "username", "u@x", "password", "pw", "security_token", "tok"),
			grant:  salesforce.GrantPassword,
			check: func(t *testing.T, r salesforce.LoginRequest) {
				if r.ClientID != "cid" || r.ClientSecret != "cs" || r.Username != "u@x" || r.Password != "pw" || r.SecurityToken != "tok" || r.LoginURL != "https://login.salesforce.com" {
					t.Errorf("request = %+v", r)
				}
			}},
		{name: "inline client id and username win", conn: conn(sfv1.AuthSpec{Password: &sfv1.PasswordAuth{ClientID: "inline", Username: "in@x", CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid", "client_secret", "cs", "password", "pw"),
			grant:  salesforce.GrantPassword,
			check: func(t *testing.T, r salesforce.LoginRequest) {
				if r.ClientID != "inline" || r.Username != "in@x" || r.SecurityToken != "" {
					t.Errorf("request = %+v", r)
				}
			}},
		{name: "password missing keys named", conn: conn(sfv1.AuthSpec{Password: &sfv1.PasswordAuth{CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid", "username", "u"), reason: sfv1.ReasonCredentialsNotFound, mention: []string{`"client_secret"`, `"password"`}},
		{name: "empty value is missing", conn: conn(sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid", "client_secret", "  "), reason: sfv1.ReasonCredentialsNotFound, mention: []string{`"client_secret"`}},
		{name: "client credentials", conn: conn(sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid", "client_secret", "cs"), grant: salesforce.GrantClientCredentials},
		{name: "refresh token without secret", conn: conn(sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid", "refresh_token", "rt"), grant: salesforce.GrantRefreshToken,
			check: func(t *testing.T, r salesforce.LoginRequest) {
				if r.RefreshToken != "rt" || r.ClientSecret != "" {
					t.Errorf("request = %+v", r)
				}
			}},
		{name: "refresh token missing", conn: conn(sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{CredentialsSecretRef: ref}}),
			secret: secret("client_id", "cid"), reason: sfv1.ReasonCredentialsNotFound, mention: []string{`"refresh_token"`}},
		{name: "jwt", conn: conn(sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: "cid", Username: "u@x", CredentialsSecretRef: ref}}),
			secret: secret("private_key", rsaPEM), grant: salesforce.GrantJWTBearer,
			check: func(t *testing.T, r salesforce.LoginRequest) {
				if r.PrivateKey == nil {
					t.Errorf("no private key")
				}
			}},
		{name: "jwt with an EC key", conn: conn(sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: "cid", Username: "u@x", CredentialsSecretRef: ref}}),
			secret: secret("private_key", ecPEM), reason: sfv1.ReasonInvalidCredentials, mention: []string{`"private_key"`, "RSA"}},
		{name: "jwt with garbage", conn: conn(sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: "cid", Username: "u@x", CredentialsSecretRef: ref}}),
			secret: secret("private_key", "not a pem"), reason: sfv1.ReasonInvalidCredentials, mention: []string{`"private_key"`}},
		{name: "no auth method", conn: conn(sfv1.AuthSpec{}), secret: secret(), reason: sfv1.ReasonInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, problem := buildInputs(tt.conn, tt.secret)
			if tt.reason != "" {
				if problem == nil || problem.Reason != tt.reason || problem.Class != failure.Terminal {
					t.Fatalf("problem = %+v, want a terminal %s", problem, tt.reason)
				}
				for _, w := range tt.mention {
					if !strings.Contains(problem.Message, w) {
						t.Errorf("message %q does not mention %s", problem.Message, w)
					}
				}
				for _, v := range tt.secret.Data {
					if len(v) > 3 && strings.Contains(problem.Message, string(v)) {
						t.Errorf("message %q contains a secret value", problem.Message)
					}
				}
				return
			}
			if problem != nil {
				t.Fatalf("problem = %+v", problem)
			}
			if in.Request.Grant != tt.grant || in.Hash == "" {
				t.Errorf("grant %s hash %q", in.Request.Grant, in.Hash)
			}
			if tt.check != nil {
				tt.check(t, in.Request)
			}
		})
	}
}

func TestInputsHashFollowsUsedValuesOnly(t *testing.T) {
	c := &sfv1.SalesforceConnection{Spec: sfv1.SalesforceConnectionSpec{LoginURL: "https://login.salesforce.com",
		Auth: sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "c"}}}}}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string][]byte{"client_id": []byte("a"), "client_secret": []byte("b")}}
	hash := func() string {
		in, p := buildInputs(c, s)
		if p != nil {
			t.Fatal(p.Message)
		}
		return in.Hash
	}
	h1 := hash()
	s.Data["unrelated"] = []byte("x")
	if hash() != h1 {
		t.Errorf("an unused key changed the hash")
	}
	s.Data["client_secret"] = []byte("c")
	if hash() == h1 {
		t.Errorf("a new client secret did not change the hash")
	}
	s.Data["client_secret"] = []byte("b")
	c.Spec.LoginURL = "https://acme.my.salesforce.com"
	if hash() == h1 {
		t.Errorf("a new login URL did not change the hash")
	}
}

// The inputs hash is stored on every token Secret: a hash computed differently by a new
// release would make every connection log in again after an upgrade. These are the
// hashes of the release before flows became types.
func TestInputsHashIsStableAcrossReleases(t *testing.T) {
	ref := sfv1.SecretReference{Name: "creds"}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{
		"client_id": []byte("cid"), "client_secret": []byte("cs"), "username": []byte("u@x"), "password": []byte("pw"),
		"refresh_token": []byte("rt"),
	}}
	for _, tt := range []struct {
		auth sfv1.AuthSpec
		want string
	}{
		{sfv1.AuthSpec{Password: &sfv1.PasswordAuth{CredentialsSecretRef: ref}},
			"45d5bc643c131a63ff336e126dd06e76067f82cfadefce1b1c589727f4812c6d"},
		{sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{ClientID: "inline", CredentialsSecretRef: ref}},
			"bdb960ef2a7296b2f3eaabf03a3e8195a8bdaea0dcdb9aaf887f20a223b96ec8"},
		{sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{CredentialsSecretRef: ref}},
			"95630feee025df46bd548a60ceac84ca32d65c5f497b4d1c9c4fc456038e2d9c"},
		{sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: "cid", Username: "u@x", GenerateKey: true, CredentialsSecretRef: ref}},
			"5a7f774c82ecff4ecaadc6501869a9d09c3554f11c9d3b43bfd47937d4d9fe26"},
		{sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{ClientID: "cid", Username: "u@x", Scope: "api refresh_token"}},
			"f99aca13863a9d32bd55256d409f2b6c4b3d7f91f6f6a3df2c9124dd3a65aacf"},
	} {
		c := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", UID: "uid"},
			Spec: sfv1.SalesforceConnectionSpec{LoginURL: "https://login.salesforce.com/", Auth: tt.auth}}
		s := secret
		if tt.auth.DeviceLogin != nil {
			s = &corev1.Secret{}
		}
		flow, _ := For(c)
		in, fl := flow.Inputs(s)
		if fl != nil {
			t.Fatal(fl.Message)
		}
		if in.Hash != tt.want {
			t.Errorf("%s: hash %s, want %s", flow.Name(), in.Hash, tt.want)
		}
	}
}
