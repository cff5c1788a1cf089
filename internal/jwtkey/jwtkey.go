// Package jwtkey makes the key pair a JWT bearer connection signs its assertions with: an
// RSA key that never leaves the cluster, and a self-signed X.509 certificate, the form in
// which a Salesforce admin uploads the public half to the connected app ("Use digital
// signatures"). Salesforce checks only the signature with the certificate's key, so a
// self-signed certificate is what it expects.
package jwtkey

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// KeyBits is the size of the generated RSA keys: what Salesforce's own instructions use.
const KeyBits = 2048

// Pair is a private key and its certificate, PEM-encoded.
type Pair struct {
	// KeyPEM is the PKCS#8 private key. It belongs in a Secret and nowhere else.
	KeyPEM []byte
	// CertPEM is the self-signed certificate: public, for the Salesforce admin.
	CertPEM []byte
}

// Generate makes a new key and a certificate for it, valid from now (less a little, for
// clocks behind ours) for validity. commonName names the connection in the certificate,
// so that an admin looking at the connected app knows where it came from.
func Generate(commonName string, validity time.Duration, now time.Time) (*Pair, error) {
	if validity <= 0 {
		return nil, errors.New("jwtkey: validity must be positive")
	}
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: generating an RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("jwtkey: choosing a serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: bounded(commonName), Organization: []string{"sfconn"}},
		NotBefore:             now.Add(-5 * time.Minute).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: creating the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: encoding the key: %w", err)
	}
	return &Pair{
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// Certificate is what the operator reports about a certificate: never the key.
type Certificate struct {
	NotBefore, NotAfter time.Time
	// Fingerprint is the SHA-256 of the certificate's DER, in the colon-separated upper
	// case hex that certificate tools print.
	Fingerprint string
	CommonName  string
}

// Inspect reads a PEM certificate.
func Inspect(certPEM []byte) (*Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("jwtkey: not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: parsing the certificate: %w", err)
	}
	sum := sha256.Sum256(block.Bytes)
	hexed := strings.ToUpper(hex.EncodeToString(sum[:]))
	var pairs []string
	for i := 0; i < len(hexed); i += 2 {
		pairs = append(pairs, hexed[i:i+2])
	}
	return &Certificate{NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		Fingerprint: strings.Join(pairs, ":"), CommonName: cert.Subject.CommonName}, nil
}

// Matches says whether a PEM private key is the one a PEM certificate was made for.
func Matches(keyPEM, certPEM []byte) bool {
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return false
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return false
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return false
	}
	priv, ok := key.(*rsa.PrivateKey)
	pub, ok2 := cert.PublicKey.(*rsa.PublicKey)
	return ok && ok2 && priv.PublicKey.Equal(pub)
}

// bounded keeps a common name within X.509's 64 characters.
func bounded(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
