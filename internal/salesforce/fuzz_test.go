package salesforce

import (
	"strings"
	"testing"
)

// The parsers below read data from the network or from a user's Secret; they must never
// panic, and what they return must respect the invariants the reconciler relies on.

func FuzzParseTokenAnswer(f *testing.F) {
	for _, seed := range []string{
		passwordAnswer, jwtAnswer, clientCredentialsAnswer, refreshAnswer, refreshRotatedAnswer,
		`{"access_token":"x","issued_at":1609942615640}`,
		`{"access_token":"x","issued_at":"-1"}`,
		`{"access_token":"x","issued_at":1e400}`,
		`{"access_token":"x","id":"https://h/id/00D000000000000/005000000000000"}`,
		`<html></html>`, `{"access_token":`, `null`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	allowed := map[string]bool{}
	for _, m := range []string{"HTML answer", "empty answer", "malformed JSON answer", "non-JSON answer"} {
		allowed[m+" (status 200)"] = true
	}
	allowed["malformed answer: no access_token"] = true

	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := parseTokenAnswer(body, testNow)
		if err != nil {
			e, ok := err.(*Error) //nolint:errorlint // the error must be an *Error itself, not wrap one
			if !ok {
				t.Fatalf("error of type %T", err)
			}
			// Only fixed texts: a success body holds the access token, so nothing from it
			// may reach an error.
			if e.Class != Retryable || e.Code != "" || e.Description != "" || e.Err != nil || !allowed[e.Message] {
				t.Fatalf("unexpected error %#v", e)
			}
			return
		}
		if tok.AccessToken == "" {
			t.Fatal("token without access_token")
		}
		if tok.IssuedAt.After(testNow) || testNow.Sub(tok.IssuedAt) > maxIssuedAtAge {
			t.Fatalf("IssuedAt %v outside [now-24h, now]", tok.IssuedAt)
		}
		if (tok.OrgID == "") != (tok.UserID == "") {
			t.Fatalf("half an identity: %q %q", tok.OrgID, tok.UserID)
		}
	})
}

func FuzzParseIdentityURL(f *testing.F) {
	for _, seed := range []string{
		sampleID,
		"https://test.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
		"https://h/id/00D58000000arpqEAA/00558000000yFyDAAU/",
		"https://h/id//", "https://h", "", "00D/005", "https://h/%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		org, user, err := ParseIdentityURL(in)
		if err != nil {
			if org != "" || user != "" {
				t.Fatalf("ids with an error: %q %q", org, user)
			}
			return
		}
		if !isSalesforceID(org, "00D") || !isSalesforceID(user, "005") {
			t.Fatalf("accepted %q %q", org, user)
		}
		if !strings.Contains(in, org) || !strings.Contains(in, user) {
			t.Fatalf("ids %q %q not taken from %q", org, user, in)
		}
	})
}

func FuzzParseRSAPrivateKey(f *testing.F) {
	fx := keyFixtures(f)
	for _, name := range []string{"pkcs1", "pkcs8 rsa", "pkcs8 ec", "sec1 ec", "encrypted pkcs1", "corrupt der", "cert then key", "garbage", "empty"} {
		f.Add(fx[name])
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))

	// Every error text is fixed: none can carry bytes of the input.
	allowed := map[string]bool{}
	for _, m := range []string{
		"encrypted keys are not supported; store the key unencrypted in the Secret",
		"an RSA key of at least 2048 bits is required",
		"an RSA key is required (got EC PRIVATE KEY)",
		"an RSA key is required (got OPENSSH PRIVATE KEY)",
		"an RSA key is required (got DSA PRIVATE KEY)",
		"an RSA key is required (got an EC key)",
		"an RSA key is required (got an Ed25519 key)",
		"an RSA key is required",
		"malformed private key (neither PKCS#1 nor PKCS#8)",
		"no private key PEM block found",
		"no PEM data found",
		"key too large",
	} {
		allowed["private_key: "+m] = true
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		key, err := ParseRSAPrivateKey(in)
		if err != nil {
			if key != nil {
				t.Fatal("key with an error")
			}
			e, ok := err.(*Error) //nolint:errorlint // the error must be an *Error itself, not wrap one
			if !ok || e.Class != Terminal || e.Err != nil || !allowed[e.Message] {
				t.Fatalf("error %#v, want a Terminal *Error with a fixed message", err)
			}
			return
		}
		if key.N.BitLen() < minRSABits {
			t.Fatalf("accepted a %d-bit key", key.N.BitLen())
		}
	})
}
