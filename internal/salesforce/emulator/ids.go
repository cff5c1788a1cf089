package emulator

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// Salesforce IDs are 15 case-sensitive characters plus, in the 18-character form real orgs
// return (docs/salesforce-behaviour.md#the-identity-url-names-the-org-and-the-user), a
// 3-character suffix that encodes which of the first 15 are upper case.
const idSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

func isAlnum(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// to18 adds the case-checksum suffix to a 15-character ID.
func to18(id15 string) string {
	var b strings.Builder
	b.WriteString(id15)
	for chunk := 0; chunk < 3; chunk++ {
		bits := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		b.WriteByte(idSuffixAlphabet[bits])
	}
	return b.String()
}

// normalizeID checks an ID's key prefix and returns its 18-character form; an empty ID is
// generated.
func normalizeID(id, prefix string, gen func(prefix string) string) (string, error) {
	if id == "" {
		return gen(prefix), nil
	}
	if !strings.HasPrefix(id, prefix) {
		return "", fmt.Errorf("id must start with %s", prefix)
	}
	if !isAlnum(id) {
		return "", fmt.Errorf("id must be alphanumeric")
	}
	switch len(id) {
	case 15:
		return to18(id), nil
	case 18:
		return id, nil
	default:
		return "", fmt.Errorf("id must have 15 or 18 characters, got %d", len(id))
	}
}

// id15 is the case-sensitive 15-character form, which prefixes access tokens
// (docs/salesforce-behaviour.md#token-formats).
func id15(id string) string {
	if len(id) > 15 {
		return id[:15]
	}
	return id
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString returns n characters from alphabet, drawn from crypto/rand: tokens must be
// unguessable even in a test double, since the demo may expose it on a network.
func randomString(n int, alphabet string) string {
	max := big.NewInt(int64(len(alphabet)))
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(fmt.Sprintf("emulator: crypto/rand failed: %v", err))
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newAccessToken mimics Salesforce session IDs: the 15-character org ID, "!", then an
// opaque string (docs/salesforce-behaviour.md#token-formats). Salesforce's opaque part uses
// letters, digits, '.' and '_'.
func newAccessToken(orgID string) string {
	return id15(orgID) + "!" + randomString(96, tokenAlphabet+"._")
}

// newRefreshToken mimics the "5Aep861…" shape of samples and stays inside the character set
// the SFDX auth URL parser accepts (docs/salesforce-behaviour.md#token-formats): letters,
// digits and '.'.
func newRefreshToken() string {
	return "5Aep861" + randomString(80, tokenAlphabet+".")
}
