package tokensecret

import (
	"strings"
	"time"
)

// Packed is a Token in one allocation for its data: what the operator keeps in memory of
// every token it wrote, to restore a deleted token Secret without a login. A map of eight
// byte slices costs about twice its bytes in map buckets and allocations; at thousands of
// connections that was a few hundred bytes each.
type Packed struct {
	// data holds the values of Keys, one after the other; ends[i] is where the value of
	// Keys[i] ends, and present says which keys the token had.
	data    string
	ends    [len(keyOrder)]uint32
	present uint16

	issuedAt, expiresAt       time.Time
	inputsHash, inputsVersion string
	introspected              bool
}

// keyOrder is Keys as an array, so that Packed's size is known at compile time.
var keyOrder = [...]string{KeyAccessToken, KeyInstanceURL, KeyTokenType, KeyIssuedAt, KeyExpiresAt, KeyID, KeyOrgID, KeyUserID}

// Pack packs t. Data outside Keys, which no token holds, is not kept.
func (t *Token) Pack() *Packed {
	p := &Packed{
		issuedAt: t.IssuedAt, expiresAt: t.ExpiresAt,
		inputsHash: t.InputsHash, inputsVersion: t.InputsVersion, introspected: t.Introspected,
	}
	var b strings.Builder
	n := 0
	for _, k := range keyOrder {
		n += len(t.Data[k])
	}
	b.Grow(n)
	for i, k := range keyOrder {
		if v, ok := t.Data[k]; ok {
			p.present |= 1 << i
			b.Write(v)
		}
		p.ends[i] = uint32(b.Len())
	}
	p.data = b.String()
	return p
}

// Unpack returns a Token of its own, as Pack was given it.
func (p *Packed) Unpack() *Token {
	t := &Token{
		IssuedAt: p.issuedAt, ExpiresAt: p.expiresAt,
		InputsHash: p.inputsHash, InputsVersion: p.inputsVersion, Introspected: p.introspected,
		Data: make(map[string][]byte, len(keyOrder)),
	}
	start := uint32(0)
	for i, k := range keyOrder {
		if p.present&(1<<i) != 0 {
			t.Data[k] = []byte(p.data[start:p.ends[i]])
		}
		start = p.ends[i]
	}
	return t
}

// InputsHash is the packed token's Token.InputsHash.
func (p *Packed) InputsHash() string { return p.inputsHash }

// IssuedAt is the packed token's Token.IssuedAt.
func (p *Packed) IssuedAt() time.Time { return p.issuedAt }

// Holds says whether p is t packed: a pass that reads back the token it remembers need
// not pack it again.
func (p *Packed) Holds(t *Token) bool {
	if !p.issuedAt.Equal(t.IssuedAt) || !p.expiresAt.Equal(t.ExpiresAt) || p.inputsHash != t.InputsHash ||
		p.inputsVersion != t.InputsVersion || p.introspected != t.Introspected {
		return false
	}
	start, n := uint32(0), 0
	for i, k := range keyOrder {
		v, ok := t.Data[k]
		if ok != (p.present&(1<<i) != 0) || string(v) != p.data[start:p.ends[i]] {
			return false
		}
		if ok {
			n++
		}
		start = p.ends[i]
	}
	return n == len(t.Data)
}
