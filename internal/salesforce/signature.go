package salesforce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// ComputeSignature returns Salesforce's signature of a token answer:
// base64std(HMAC-SHA256(key = client secret, message = id + issued_at)). The emulator signs
// its answers with it, so both sides agree by construction
// (docs/salesforce-behaviour.md#the-signature-is-an-hmac-of-id-and-issued_at).
func ComputeSignature(clientSecret, id, issuedAt string) string {
	return base64.StdEncoding.EncodeToString(signatureMAC(clientSecret, id, issuedAt))
}

// VerifySignature reports whether signature proves that id and issued_at came from
// Salesforce unchanged. It is not checked by Login: JWT answers carry no signature, and the
// refresh grant may run without the client secret. Callers that have both check it here.
func VerifySignature(clientSecret, id, issuedAt, signature string) bool {
	if clientSecret == "" || signature == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	// Constant time, so the comparison leaks nothing about the expected MAC.
	return hmac.Equal(got, signatureMAC(clientSecret, id, issuedAt))
}

func signatureMAC(clientSecret, id, issuedAt string) []byte {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte(id + issuedAt))
	return mac.Sum(nil)
}
