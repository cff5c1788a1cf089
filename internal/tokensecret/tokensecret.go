// Package tokensecret is the token Secret: the contract with the workloads that mount it
// (its keys), and the operator's record of the token it holds (its annotations). The
// Secret describes itself, so whether the token is still good needs no call to
// Salesforce, also after a restart; and edits by anyone else are noticed, since the data
// hash no longer matches.
package tokensecret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokentemplate"
)

// Keys of the token Secret: the contract with the workloads that mount it. A refresh
// token is never one of them.
const (
	KeyAccessToken = "access_token"
	KeyInstanceURL = "instance_url"
	KeyTokenType   = "token_type"
	KeyIssuedAt    = "issued_at"
	KeyExpiresAt   = "expires_at"
	KeyID          = "id"
	KeyOrgID       = "org_id"
	KeyUserID      = "user_id"
)

// Keys lists the keys that record the token itself; template keys are derived from them.
var Keys = keyOrder[:]

// Annotations of the token Secret: the operator's record of the token.
const (
	AnnotationIssuedAt  = "salesforce.sfconn.io/issued-at"
	AnnotationExpiresAt = "salesforce.sfconn.io/expires-at"
	// AnnotationInputsHash identifies the spec and credentials the token came from.
	AnnotationInputsHash = "salesforce.sfconn.io/inputs-hash"
	// AnnotationSeal is a keyed HMAC of the Secret's data and of every annotation the
	// operator reads back: whoever may edit the Secret but does not hold the operator's
	// key cannot change what the operator believes of its token (its times, its inputs,
	// where it is sent) without the operator noticing.
	AnnotationSeal = "salesforce.sfconn.io/seal"
	// AnnotationDataHash is the unkeyed SHA-256 of the data that operators before seals
	// wrote; Read reports such a Secret as Unsealed, and the next write replaces it.
	AnnotationDataHash = "salesforce.sfconn.io/data-hash"
	// AnnotationInputsVersion is the connection's generation and the credentials Secret's
	// resourceVersion when the inputs hash was last checked: while both stay, the
	// credentials need not be read again.
	AnnotationInputsVersion = "salesforce.sfconn.io/inputs-version"
	// AnnotationExpirySource is "Introspection" when Salesforce's introspection gave the
	// expiry; absent, the expiry is issued-at plus the spec's session timeout.
	AnnotationExpirySource = "salesforce.sfconn.io/expiry-source"
	// AnnotationTemplateMetadata lists the label and annotation keys that
	// spec.tokenSecret.template put on the Secret, so that a key the template no longer has
	// is taken off (a replication annotation must not keep copying tokens).
	AnnotationTemplateMetadata = "salesforce.sfconn.io/template-metadata"
	// AnnotationWrittenFor is the UID of the connection the operator wrote an ownerless
	// (spec.tokenSecret.deletionPolicy Orphan) token Secret for. Under the seal, it is
	// what tells the operator's own ownerless Secret from one it may only adopt.
	AnnotationWrittenFor = "salesforce.sfconn.io/written-for"
)

// NameSuffix ends the default name of a token Secret, after the connection's.
const NameSuffix = "-token"

// Name is spec.tokenSecret.name, or <connection>-token (shortened for a name too long
// for it, see owned.DerivedName).
func Name(conn *sfv1.SalesforceConnection) string {
	if conn.Spec.TokenSecret.Name != "" {
		return conn.Spec.TokenSecret.Name
	}
	return owned.DerivedName(owned.BaseName(conn), NameSuffix)
}

// Orphaned says whether the connection's token Secret is to outlive it
// (spec.tokenSecret.deletionPolicy Orphan): no owner reference.
func Orphaned(conn *sfv1.SalesforceConnection) bool {
	return conn.Spec.TokenSecret.DeletionPolicy == sfv1.DeletionPolicyOrphan
}

// WrittenFor is the UID of the connection the operator wrote an ownerless token Secret
// for; only worth anything when Read found the Secret Sealed.
func WrittenFor(s *corev1.Secret) string { return s.Annotations[AnnotationWrittenFor] }

// Token is a token and the times the operator derives for it.
type Token struct {
	// Data holds the Secret's token keys (Keys).
	Data      map[string][]byte
	IssuedAt  time.Time
	ExpiresAt time.Time
	// InputsHash identifies the spec and credentials the token was obtained with.
	InputsHash string
	// InputsVersion is the AnnotationInputsVersion the token was last checked under.
	InputsVersion string
	// Introspected is set when ExpiresAt is Salesforce's own exp for the token, which a
	// change of spec.sessionTimeout does not move.
	Introspected bool
}

// ExpirySource says where ExpiresAt came from, as status reports it.
func (t *Token) ExpirySource() sfv1.ExpirySource {
	if t.Introspected {
		return sfv1.ExpirySourceIntrospection
	}
	return sfv1.ExpirySourceSessionTimeout
}

func (t *Token) AccessToken() string { return string(t.Data[KeyAccessToken]) }
func (t *Token) InstanceURL() string { return string(t.Data[KeyInstanceURL]) }
func (t *Token) OrgID() string       { return string(t.Data[KeyOrgID]) }
func (t *Token) UserID() string      { return string(t.Data[KeyUserID]) }

// FromAnswer turns a token answer into the token Secret's data. The refresh token is
// never part of it: workloads get access tokens only.
func FromAnswer(tok *salesforce.Token, sessionTimeout time.Duration, inputsHash string) *Token {
	t := &Token{IssuedAt: tok.IssuedAt.UTC().Truncate(time.Second), InputsHash: inputsHash}
	t.Data = map[string][]byte{
		KeyAccessToken: []byte(tok.AccessToken),
		KeyInstanceURL: []byte(tok.InstanceURL),
		KeyTokenType:   []byte(orDefault(tok.TokenType, "Bearer")),
		KeyID:          []byte(tok.ID),
		KeyOrgID:       []byte(tok.OrgID),
		KeyUserID:      []byte(tok.UserID),
	}
	t.SetLifetime(sessionTimeout)
	return t
}

// Clone copies the token, so a remembered copy never shares a map with a Secret.
func (t *Token) Clone() *Token {
	c := *t
	c.Data = make(map[string][]byte, len(t.Data))
	for k, v := range t.Data {
		c.Data[k] = slices.Clone(v)
	}
	return &c
}

// SetLifetime derives expiry from the issue time: the token answer says nothing about it,
// the session timeout in the spec does. An introspected expiry stays.
func (t *Token) SetLifetime(sessionTimeout time.Duration) {
	if !t.Introspected {
		t.ExpiresAt = t.IssuedAt.Add(sessionTimeout)
	}
	t.Data[KeyIssuedAt] = []byte(t.IssuedAt.Format(time.RFC3339))
	t.Data[KeyExpiresAt] = []byte(t.ExpiresAt.Format(time.RFC3339))
}

// SetIntrospectedExpiry records Salesforce's own expiry for the token.
func (t *Token) SetIntrospectedExpiry(exp time.Time) {
	t.Introspected = true
	t.ExpiresAt = exp.UTC().Truncate(time.Second)
	t.SetLifetime(0)
}

// LifetimeMatches says whether the stored expiry is what the spec makes it: always for an
// introspected one, else issued-at plus the session timeout.
func (t *Token) LifetimeMatches(sessionTimeout time.Duration) bool {
	return t.Introspected || t.ExpiresAt.Equal(t.IssuedAt.Add(sessionTimeout))
}

// Integrity is what a token Secret's seal says.
type Integrity int

const (
	// Edited: someone without the operator's key changed the data or an annotation the
	// operator reads, or the Secret holds no seal at all.
	Edited Integrity = iota
	// Sealed: the data and annotations are as the operator wrote them.
	Sealed
	// Unsealed: written by an operator before seals, with an unkeyed hash of the data that
	// matches. Only what the caller knows of the token (its status) can vouch for it.
	Unsealed
)

// sealed are the annotations the operator reads back, in the order the seal covers them.
var sealed = []string{AnnotationIssuedAt, AnnotationExpiresAt, AnnotationInputsHash, AnnotationInputsVersion, AnnotationExpirySource}

// SealKey derives the key of token Secret seals from the operator's secret key, so that
// the one key never serves two purposes.
func SealKey(operatorKey []byte) []byte {
	mac := hmac.New(sha256.New, operatorKey)
	mac.Write([]byte("sfconn token Secret seal v1"))
	return mac.Sum(nil)
}

// seal is the HMAC of data and the sealed annotations under key.
func seal(key []byte, data map[string][]byte, annotations map[string]string) string {
	mac := hmac.New(sha256.New, key)
	writeData(mac, "d", data)
	for _, k := range sealed {
		v := annotations[k]
		fmt.Fprintf(mac, "a%d:%s;%d:%s", len(k), k, len(v), v)
	}
	// Covered only when present, so that the seals of Secrets written without it still
	// hold; adding or removing it breaks the seal all the same.
	if v, ok := annotations[AnnotationWrittenFor]; ok {
		fmt.Fprintf(mac, "w%d:%s", len(v), v)
	}
	return "v1:" + hex.EncodeToString(mac.Sum(nil))
}

// Read reads the token Secret the operator wrote. It returns nil when the Secret is not
// usable as a record of a token (then a login replaces it), and what its seal, made with
// key (SealKey), says of it.
func Read(s *corev1.Secret, key []byte) (tok *Token, integrity Integrity) {
	if s == nil {
		return nil, Edited
	}
	issuedAt, err1 := time.Parse(time.RFC3339, s.Annotations[AnnotationIssuedAt])
	expiresAt, err2 := time.Parse(time.RFC3339, s.Annotations[AnnotationExpiresAt])
	if err1 != nil || err2 != nil || len(s.Data[KeyAccessToken]) == 0 {
		return nil, Edited
	}
	data := make(map[string][]byte, len(Keys))
	for _, k := range Keys {
		if v, ok := s.Data[k]; ok {
			data[k] = v
		}
	}
	tok = &Token{Data: data, IssuedAt: issuedAt, ExpiresAt: expiresAt,
		InputsHash: s.Annotations[AnnotationInputsHash], InputsVersion: s.Annotations[AnnotationInputsVersion],
		Introspected: s.Annotations[AnnotationExpirySource] == string(sfv1.ExpirySourceIntrospection)}
	switch got := s.Annotations[AnnotationSeal]; {
	case got != "":
		if hmac.Equal([]byte(got), []byte(seal(key, s.Data, s.Annotations))) {
			return tok, Sealed
		}
	case s.Annotations[AnnotationDataHash] == DataHash(s.Data):
		return tok, Unsealed
	}
	return tok, Edited
}

// MetadataDrifted says whether the Secret lost any label or annotation the operator sets,
// or its template keys are not what the template renders now (the data hash annotation
// differs then).
func MetadataDrifted(actual, desired *corev1.Secret) bool {
	for k, v := range desired.Labels {
		if actual.Labels[k] != v {
			return true
		}
	}
	for k, v := range desired.Annotations {
		if actual.Annotations[k] != v {
			return true
		}
	}
	// Template metadata to take off.
	_, had := actual.Annotations[AnnotationTemplateMetadata]
	_, has := desired.Annotations[AnnotationTemplateMetadata]
	return had && !has
}

// Desired is the token Secret as the operator wants it, sealed with key: the token's
// keys, the keys and metadata of spec.tokenSecret.template. When a template key cannot be
// rendered with this token, the Secret comes without the template keys, with the error:
// the token is never held back by a template.
func Desired(conn *sfv1.SalesforceConnection, tok *Token, key []byte) (*corev1.Secret, error) {
	data := make(map[string][]byte, len(tok.Data))
	tmpl := conn.Spec.TokenSecret.Template
	rendered, err := tokentemplate.Render(tmpl, templateFields(conn, tok))
	maps.Copy(data, rendered)
	maps.Copy(data, tok.Data)
	s := &corev1.Secret{
		ObjectMeta: owned.Meta(conn, Name(conn)),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if tmpl != nil {
		s.Labels = owned.MergeMaps(maps.Clone(tmpl.Metadata.Labels), s.Labels)
		s.Annotations = owned.MergeMaps(maps.Clone(tmpl.Metadata.Annotations), s.Annotations)
		if len(tmpl.Metadata.Labels)+len(tmpl.Metadata.Annotations) > 0 {
			s.Annotations = owned.MergeMaps(s.Annotations, map[string]string{
				AnnotationTemplateMetadata: formatTemplateKeys(tmpl.Metadata.Labels, tmpl.Metadata.Annotations)})
		}
	}
	s.Annotations = owned.MergeMaps(s.Annotations, map[string]string{
		AnnotationIssuedAt:   tok.IssuedAt.Format(time.RFC3339),
		AnnotationExpiresAt:  tok.ExpiresAt.Format(time.RFC3339),
		AnnotationInputsHash: tok.InputsHash,
	})
	if tok.InputsVersion != "" {
		s.Annotations[AnnotationInputsVersion] = tok.InputsVersion
	}
	if tok.Introspected {
		s.Annotations[AnnotationExpirySource] = string(sfv1.ExpirySourceIntrospection)
	}
	if !conn.IsClusterView() {
		// Rebuilt from memory rather than cached (see owned.LabelUncached). The copies of a
		// cluster connection stay cached: its pass compares the copy in every target
		// namespace with what it should hold.
		s.Labels[owned.LabelUncached] = "true"
	}
	if Orphaned(conn) {
		// No owner reference says whose it is: the sealed UID does.
		s.OwnerReferences = nil
		s.Annotations[AnnotationWrittenFor] = string(conn.UID)
	}
	s.Annotations[AnnotationSeal] = seal(key, data, s.Annotations)
	return s, err
}

// formatTemplateKeys lists label and annotation keys as "labels=a,b;annotations=c".
func formatTemplateKeys(labels, annotations map[string]string) string {
	return "labels=" + strings.Join(slices.Sorted(maps.Keys(labels)), ",") +
		";annotations=" + strings.Join(slices.Sorted(maps.Keys(annotations)), ",")
}

// PruneTemplateMetadata takes off s the labels and annotations that the template of an
// earlier write put there (AnnotationTemplateMetadata of s) and that desired no longer
// has. Keys of other writers stay.
func PruneTemplateMetadata(s, desired *corev1.Secret) {
	for _, part := range strings.Split(s.Annotations[AnnotationTemplateMetadata], ";") {
		kind, keys, _ := strings.Cut(part, "=")
		target, keep := s.Labels, desired.Labels
		if kind == "annotations" {
			target, keep = s.Annotations, desired.Annotations
		}
		for _, k := range strings.Split(keys, ",") {
			if _, wanted := keep[k]; k != "" && !wanted && !strings.HasPrefix(k, "salesforce.sfconn.io/") && k != owned.LabelManagedBy {
				delete(target, k)
			}
		}
	}
	if _, ok := desired.Annotations[AnnotationTemplateMetadata]; !ok {
		delete(s.Annotations, AnnotationTemplateMetadata)
	}
}

// templateFields are the values a template reads: the token's keys and the connection's
// name. Only what the token Secret holds, so rendering again gives the same bytes and a
// Secret is rewritten only when the token or the template changed.
func templateFields(conn *sfv1.SalesforceConnection, tok *Token) tokentemplate.Fields {
	f := tokentemplate.NewFields(tok.IssuedAt, tok.ExpiresAt)
	f.AccessToken = string(tok.Data[KeyAccessToken])
	f.InstanceURL = string(tok.Data[KeyInstanceURL])
	f.TokenType = string(tok.Data[KeyTokenType])
	f.ID = string(tok.Data[KeyID])
	f.OrgID = string(tok.Data[KeyOrgID])
	f.UserID = string(tok.Data[KeyUserID])
	f.Name, f.Namespace = conn.Name, conn.Namespace
	return f
}

// DataHash is a digest of a Secret's data, to notice edits without keeping a copy.
func DataHash(data map[string][]byte) string {
	h := sha256.New()
	writeData(h, "", data)
	return hex.EncodeToString(h.Sum(nil))
}

// writeData writes data to a hash in the order of its keys, each key and value with its
// length, so that no two maps write the same bytes; prefix starts each entry.
func writeData(h hash.Hash, prefix string, data map[string][]byte) {
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%s%d:%s;%d:", prefix, len(k), k, len(data[k]))
		h.Write(data[k])
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
