package emulator

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parseVerificationKey reads the key that verifies JWT bearer assertions. Salesforce takes
// an uploaded X.509 certificate ("Use digital signatures",
// docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval); a bare public key is
// accepted too because tests rarely want to mint certificates.
func parseVerificationKey(certPEM, keyPEM string) (*rsa.PublicKey, error) {
	switch {
	case certPEM != "" && keyPEM != "":
		return nil, errors.New("set certificatePEM or publicKeyPEM, not both")
	case certPEM != "":
		block, _ := pem.Decode([]byte(certPEM))
		if block == nil {
			return nil, errors.New("certificatePEM: no PEM CERTIFICATE block")
		}
		if block.Type != "CERTIFICATE" {
			// Only the type is named: the block may be the private key pasted by mistake.
			return nil, fmt.Errorf("certificatePEM: PEM block is %q, want CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificatePEM: %w", err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("certificatePEM: not an RSA key (Salesforce supports RS256 only)")
		}
		return pub, nil
	case keyPEM != "":
		block, _ := pem.Decode([]byte(keyPEM))
		if block == nil {
			return nil, errors.New("publicKeyPEM: no PEM block")
		}
		switch block.Type {
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("publicKeyPEM: %w", err)
			}
			return pub, nil
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("publicKeyPEM: %w", err)
			}
			pub, ok := k.(*rsa.PublicKey)
			if !ok {
				return nil, errors.New("publicKeyPEM: not an RSA key (Salesforce supports RS256 only)")
			}
			return pub, nil
		default:
			return nil, fmt.Errorf("publicKeyPEM: unexpected PEM block %q", block.Type)
		}
	}
	return nil, nil
}
