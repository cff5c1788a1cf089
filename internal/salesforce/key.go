package salesforce

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
)

// minRSABits is what Salesforce accepts for a connected app certificate; a shorter key
// would be refused at upload, so refusing it here gives a clearer message earlier.
const minRSABits = 2048

// maxKeyDER bounds the DER parsed: Go validates a private key with big-number arithmetic
// whose cost grows with the modulus, and a 16384-bit key is already far beyond what
// Salesforce accepts (2048 or 4096).
const maxKeyDER = 16 << 10

// ParseRSAPrivateKey reads the JWT bearer signing key from PEM: PKCS#1 ("RSA PRIVATE KEY")
// or PKCS#8 ("PRIVATE KEY") holding an RSA key. Blocks before the key (a certificate in a
// bundle) are skipped. Encrypted keys are refused: the operator has no passphrase, and the
// Secret holding the key is already the protection. Errors are Terminal and never quote
// the input.
func ParseRSAPrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	keyErr := func(msg string) (*rsa.PrivateKey, error) {
		return nil, &Error{Class: Terminal, Message: "private_key: " + msg}
	}
	rest := pemBytes
	sawBlock := false
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sawBlock = true
		encrypted := strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			return keyErr("encrypted keys are not supported; store the key unencrypted in the Secret")
		case "RSA PRIVATE KEY", "PRIVATE KEY":
			if encrypted {
				return keyErr("encrypted keys are not supported; store the key unencrypted in the Secret")
			}
			if len(block.Bytes) > maxKeyDER {
				return keyErr("key too large")
			}
			key, msg := parsePrivateKeyDER(block.Bytes)
			if key == nil {
				return keyErr(msg)
			}
			if key.N.BitLen() < minRSABits {
				return keyErr("an RSA key of at least 2048 bits is required")
			}
			return key, nil
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
			return keyErr("an RSA key is required (got " + block.Type + ")")
		}
	}
	if sawBlock {
		return keyErr("no private key PEM block found")
	}
	return keyErr("no PEM data found")
}

// parsePrivateKeyDER tries PKCS#1 then PKCS#8 whatever the PEM label says, since
// hand-made PEM files often carry the wrong one. It returns a message, not the x509
// error, so no parser detail about the bytes reaches a status condition.
func parsePrivateKeyDER(der []byte) (*rsa.PrivateKey, string) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, ""
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, "malformed private key (neither PKCS#1 nor PKCS#8)"
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, ""
	case *ecdsa.PrivateKey, *ecdh.PrivateKey:
		return nil, "an RSA key is required (got an EC key)"
	case ed25519.PrivateKey:
		return nil, "an RSA key is required (got an Ed25519 key)"
	default:
		return nil, "an RSA key is required"
	}
}
