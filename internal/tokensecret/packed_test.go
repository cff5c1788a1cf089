package tokensecret

import (
	"reflect"
	"testing"
	"time"
)

func TestPackRoundTrip(t *testing.T) {
	issued := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	full := &Token{
		Data: map[string][]byte{
			KeyAccessToken: []byte("00D!AQ.token"), KeyInstanceURL: []byte("https://acme.my.salesforce.com"),
			KeyTokenType: []byte("Bearer"), KeyIssuedAt: []byte("2026-05-01T10:00:00Z"),
			KeyExpiresAt: []byte("2026-05-01T12:00:00Z"), KeyID: []byte("https://login.salesforce.com/id/00D/005"),
			KeyOrgID: []byte("00D"), KeyUserID: []byte("005"),
		},
		IssuedAt: issued, ExpiresAt: issued.Add(2 * time.Hour),
		InputsHash: "h1", InputsVersion: "3/42", Introspected: true,
	}
	for name, tok := range map[string]*Token{
		"every key": full,
		// An empty value is kept as a key with no bytes, a missing key stays missing.
		"empty and missing values": {
			Data:     map[string][]byte{KeyAccessToken: []byte("t"), KeyID: {}, KeyUserID: []byte("005")},
			IssuedAt: issued, ExpiresAt: issued.Add(time.Hour), InputsHash: "h2",
		},
		"no data": {Data: map[string][]byte{}, IssuedAt: issued},
	} {
		t.Run(name, func(t *testing.T) {
			p := tok.Pack()
			got := p.Unpack()
			if !reflect.DeepEqual(got, tok) {
				t.Fatalf("Unpack(Pack(t)) = %+v, want %+v", got, tok)
			}
			if p.InputsHash() != tok.InputsHash || !p.IssuedAt().Equal(tok.IssuedAt) {
				t.Fatalf("InputsHash, IssuedAt = %q, %v", p.InputsHash(), p.IssuedAt())
			}
			if !p.Holds(tok) {
				t.Fatal("Holds(t) is false for Pack(t)")
			}
			for what, change := range map[string]func(*Token){
				"a value":             func(c *Token) { c.Data[KeyUserID] = []byte("006") },
				"a key more":          func(c *Token) { c.Data["other"] = []byte("x") },
				"a key less":          func(c *Token) { delete(c.Data, KeyAccessToken) },
				"the inputs":          func(c *Token) { c.InputsVersion = "4/42" },
				"the expiry":          func(c *Token) { c.ExpiresAt = c.ExpiresAt.Add(time.Second) },
				"the expiry's source": func(c *Token) { c.Introspected = !c.Introspected },
			} {
				c := tok.Clone()
				change(c)
				if len(c.Data) == len(tok.Data) && what == "a key less" {
					continue // nothing to take away
				}
				if p.Holds(c) {
					t.Errorf("Holds is true for a token with another %s", what)
				}
			}
			// The unpacked token is the caller's: changing it leaves the packed one as it was.
			got.Data[KeyAccessToken] = append(got.Data[KeyAccessToken][:0], 'x')
			if again := p.Unpack(); !reflect.DeepEqual(again, tok) {
				t.Fatalf("a changed Unpack result changed the packed token: %+v", again)
			}
		})
	}
}

// The tokens of one user keep what they share once; those of another user do not share it.
func TestPackSharesUserValues(t *testing.T) {
	token := func(access, user string) *Token {
		return &Token{Data: map[string][]byte{
			KeyAccessToken: []byte(access), KeyInstanceURL: []byte("https://acme.my.salesforce.com"),
			KeyTokenType: []byte("Bearer"), KeyID: []byte("https://login.salesforce.com/id/00D/" + user),
			KeyOrgID: []byte("00D"), KeyUserID: []byte(user),
		}}
	}
	one, two, other := token("a", "005A").Pack(), token("b", "005A").Pack(), token("c", "005B").Pack()
	if one.shared != two.shared {
		t.Error("two tokens of one user keep what they share twice")
	}
	if one.shared == other.shared {
		t.Error("tokens of two users share values they differ in")
	}
	if got := two.Unpack().AccessToken(); got != "b" {
		t.Errorf("the second token of a user unpacks as %q", got)
	}
}
