package salesforce

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func pemOf(typ string, der []byte, headers map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

// keyFixtures builds every PEM shape a user might paste into the credentials Secret.
func keyFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	rsaK := rsaKey(t)
	pkcs8RSA, err := x509.MarshalPKCS8PrivateKey(rsaK)
	if err != nil {
		t.Fatal(err)
	}
	ecK, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8EC, err := x509.MarshalPKCS8PrivateKey(ecK)
	if err != nil {
		t.Fatal(err)
	}
	sec1EC, err := x509.MarshalECPrivateKey(ecK)
	if err != nil {
		t.Fatal(err)
	}
	_, edK, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8Ed, err := x509.MarshalPKCS8PrivateKey(edK)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaK)
	return map[string][]byte{
		"pkcs1":            pemOf("RSA PRIVATE KEY", pkcs1, nil),
		"pkcs8 rsa":        pemOf("PRIVATE KEY", pkcs8RSA, nil),
		"pkcs8 mislabeled": pemOf("RSA PRIVATE KEY", pkcs8RSA, nil),
		"pkcs1 mislabeled": pemOf("PRIVATE KEY", pkcs1, nil),
		"cert then key":    append(pemOf("CERTIFICATE", []byte("not parsed"), nil), pemOf("PRIVATE KEY", pkcs8RSA, nil)...),
		"crlf and preamble": []byte("key for the crm connection\r\n" +
			strings.ReplaceAll(string(pemOf("RSA PRIVATE KEY", pkcs1, nil)), "\n", "\r\n")),
		"pkcs8 ec":         pemOf("PRIVATE KEY", pkcs8EC, nil),
		"sec1 ec":          pemOf("EC PRIVATE KEY", sec1EC, nil),
		"pkcs8 ed25519":    pemOf("PRIVATE KEY", pkcs8Ed, nil),
		"rsa 1024":         pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small), nil),
		"encrypted pkcs8":  pemOf("ENCRYPTED PRIVATE KEY", pkcs8RSA, nil),
		"encrypted pkcs1":  pemOf("RSA PRIVATE KEY", pkcs1, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}),
		"corrupt der":      pemOf("RSA PRIVATE KEY", pkcs1[:len(pkcs1)/2], nil),
		"openssh":          pemOf("OPENSSH PRIVATE KEY", []byte("openssh-key-v1\x00"), nil),
		"certificate only": pemOf("CERTIFICATE", []byte("not parsed"), nil),
		"huge":             pemOf("RSA PRIVATE KEY", make([]byte, maxKeyDER+1), nil),
		"garbage":          []byte("this is not a key, it is a password: hunter2"),
		"empty":            nil,
	}
}

func TestParseRSAPrivateKey(t *testing.T) {
	fx := keyFixtures(t)
	tests := []struct {
		name    string
		wantErr string // empty: must parse
	}{
		{"pkcs1", ""},
		{"pkcs8 rsa", ""},
		{"pkcs8 mislabeled", ""},
		{"pkcs1 mislabeled", ""},
		{"cert then key", ""},
		{"crlf and preamble", ""},
		{"pkcs8 ec", "RSA key is required (got an EC key)"},
		{"sec1 ec", "RSA key is required (got EC PRIVATE KEY)"},
		{"pkcs8 ed25519", "RSA key is required (got an Ed25519 key)"},
		{"rsa 1024", "at least 2048 bits"},
		{"encrypted pkcs8", "encrypted keys are not supported"},
		{"encrypted pkcs1", "encrypted keys are not supported"},
		{"corrupt der", "malformed private key"},
		{"openssh", "RSA key is required (got OPENSSH PRIVATE KEY)"},
		{"certificate only", "no private key PEM block"},
		{"huge", "key too large"},
		{"garbage", "no PEM data"},
		{"empty", "no PEM data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fx[tt.name]
			key, err := ParseRSAPrivateKey(in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseRSAPrivateKey: %v", err)
				}
				if !key.PublicKey.Equal(&rsaKey(t).PublicKey) {
					t.Error("parsed a different key")
				}
				return
			}
			e := asError(t, err)
			if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantErr) {
				t.Errorf("error = %q (%v), want Terminal containing %q", e.Error(), e.Class, tt.wantErr)
			}
			assertNoKeyMaterial(t, e.Error(), in)
		})
	}
}

// assertNoKeyMaterial fails when msg holds any base64 line of the PEM input or any word
// of a non-PEM input longer than a few characters.
func assertNoKeyMaterial(t *testing.T, msg string, in []byte) {
	t.Helper()
	for _, line := range strings.Fields(string(in)) {
		if len(line) >= 8 && strings.Contains(msg, line) {
			t.Errorf("error %q contains input text %q", msg, line)
		}
	}
}
