package tokensecret

import (
	"strings"
	"time"
	"unique"
)

// Packed is a Token in few allocations: what the operator keeps in memory of every token
// it wrote, to restore a deleted token Secret without a login. A map of eight byte slices
// costs about twice its bytes in map buckets and allocations; at thousands of connections
// that was a few hundred bytes each.
//
// The values the tokens of one user share (instance URL, token type, identity URL, org
// and user IDs, about half of a token's bytes) are kept once per user (shared), and the
// rest in one string. Platform teams run many connections as a few integration users; a
// user of one connection pays a handle and one small entry more than it would inline.
type Packed struct {
	// data holds the token's own values, ownKeys' then the inputs hash and version, one
	// after the other; ends[i] is where the i-th ends. present says which keys the token
	// had, by their place in keyOrder.
	data         string
	ends         [len(ownKeys) + 2]uint32
	present      uint8
	introspected bool
	shared       unique.Handle[sharedValues]

	issuedAt, expiresAt time.Time
}

// keyOrder is Keys as an array, so that Packed's size is known at compile time.
var keyOrder = [...]string{KeyAccessToken, KeyInstanceURL, KeyTokenType, KeyIssuedAt, KeyExpiresAt, KeyID, KeyOrgID, KeyUserID}

// ownKeys and sharedKeys split keyOrder, by place: the values each token has of its own,
// and those the tokens of one user share.
var (
	ownKeys    = [...]int{0, 3, 4}
	sharedKeys = [...]int{1, 2, 5, 6, 7}
)

// sharedValues are the values of sharedKeys of the tokens of one user.
type sharedValues [len(sharedKeys)]string

// Pack packs t. Data outside Keys, which no token holds, is not kept.
func (t *Token) Pack() *Packed {
	p := &Packed{issuedAt: t.IssuedAt, expiresAt: t.ExpiresAt, introspected: t.Introspected}
	for i, k := range keyOrder {
		if _, ok := t.Data[k]; ok {
			p.present |= 1 << i
		}
	}
	var shared sharedValues
	for i, k := range sharedKeys {
		shared[i] = string(t.Data[keyOrder[k]])
	}
	p.shared = unique.Make(shared)
	n := len(t.InputsHash) + len(t.InputsVersion)
	for _, k := range ownKeys {
		n += len(t.Data[keyOrder[k]])
	}
	var b strings.Builder
	b.Grow(n)
	for i, k := range ownKeys {
		b.Write(t.Data[keyOrder[k]])
		p.ends[i] = uint32(b.Len())
	}
	for i, v := range [...]string{t.InputsHash, t.InputsVersion} {
		b.WriteString(v)
		p.ends[len(ownKeys)+i] = uint32(b.Len())
	}
	p.data = b.String()
	return p
}

// field is the i-th value in data.
func (p *Packed) field(i int) string {
	start := uint32(0)
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.data[start:p.ends[i]]
}

// values are the token's values by place in keyOrder; present says which it had.
func (p *Packed) values() [len(keyOrder)]string {
	var v [len(keyOrder)]string
	for i, k := range ownKeys {
		v[k] = p.field(i)
	}
	shared := p.shared.Value()
	for i, k := range sharedKeys {
		v[k] = shared[i]
	}
	return v
}

// Unpack returns a Token of its own, as Pack was given it.
func (p *Packed) Unpack() *Token {
	t := &Token{
		IssuedAt: p.issuedAt, ExpiresAt: p.expiresAt,
		InputsHash: p.InputsHash(), InputsVersion: p.field(len(ownKeys) + 1), Introspected: p.introspected,
		Data: make(map[string][]byte, len(keyOrder)),
	}
	for i, v := range p.values() {
		if p.present&(1<<i) != 0 {
			t.Data[keyOrder[i]] = []byte(v)
		}
	}
	return t
}

// InputsHash is the packed token's Token.InputsHash.
func (p *Packed) InputsHash() string { return p.field(len(ownKeys)) }

// IssuedAt is the packed token's Token.IssuedAt.
func (p *Packed) IssuedAt() time.Time { return p.issuedAt }

// Holds says whether p is t packed: a pass that reads back the token it remembers need
// not pack it again.
func (p *Packed) Holds(t *Token) bool {
	if !p.issuedAt.Equal(t.IssuedAt) || !p.expiresAt.Equal(t.ExpiresAt) || p.InputsHash() != t.InputsHash ||
		p.field(len(ownKeys)+1) != t.InputsVersion || p.introspected != t.Introspected {
		return false
	}
	n := 0
	for i, want := range p.values() {
		v, ok := t.Data[keyOrder[i]]
		if ok != (p.present&(1<<i) != 0) || string(v) != want {
			return false
		}
		if ok {
			n++
		}
	}
	return n == len(t.Data)
}
