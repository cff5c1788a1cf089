package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokentemplate"
)

// Keys of the token Secret (design.md): the contract with the workloads that mount it.
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

// Labels and annotations that make the operator's Secrets self-describing, so "is the
// token still good?" needs no call to Salesforce, also after a restart.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	ManagedByValue      = "sfconn-operator"
	LabelConnection     = "salesforce.sfconn.io/connection"
	AnnotationIssuedAt  = "salesforce.sfconn.io/issued-at"
	AnnotationExpiresAt = "salesforce.sfconn.io/expires-at"
	// AnnotationInputsHash identifies the spec and credentials the token came from.
	AnnotationInputsHash = "salesforce.sfconn.io/inputs-hash"
	// AnnotationDataHash detects edits of the Secret's data by anyone but the operator.
	AnnotationDataHash = "salesforce.sfconn.io/data-hash"
	// AnnotationInputsVersion is the connection's generation and the credentials Secret's
	// resourceVersion when the inputs hash was last checked: while both stay, the
	// credentials need not be read again.
	AnnotationInputsVersion = "salesforce.sfconn.io/inputs-version"
	// AnnotationExpirySource is "Introspection" when Salesforce's introspection gave the
	// expiry; absent, the expiry is issued-at plus the spec's session timeout.
	AnnotationExpirySource = "salesforce.sfconn.io/expiry-source"
)

// tokenSecretName is spec.tokenSecret.name, or <connection>-token.
func tokenSecretName(conn *sfv1.SalesforceConnection) string {
	if conn.Spec.TokenSecret.Name != "" {
		return conn.Spec.TokenSecret.Name
	}
	return conn.Name + "-token"
}

// issuedToken is a token and the times the operator derives for it.
type issuedToken struct {
	data       map[string][]byte
	issuedAt   time.Time
	expiresAt  time.Time
	inputsHash string
	// inputsVersion is the AnnotationInputsVersion the token was last checked under.
	inputsVersion string
	// introspected is set when expiresAt is Salesforce's own exp for the token, which a
	// change of spec.sessionTimeout does not move.
	introspected bool
}

// expirySource says where expiresAt came from, as status reports it.
func (t *issuedToken) expirySource() sfv1.ExpirySource {
	if t.introspected {
		return sfv1.ExpirySourceIntrospection
	}
	return sfv1.ExpirySourceSessionTimeout
}

func (t *issuedToken) instanceURL() string { return string(t.data[KeyInstanceURL]) }
func (t *issuedToken) orgID() string       { return string(t.data[KeyOrgID]) }
func (t *issuedToken) userID() string      { return string(t.data[KeyUserID]) }

// newIssuedToken turns a token answer into the token Secret's data. The refresh token is
// never part of it: workloads get access tokens only.
func newIssuedToken(tok *salesforce.Token, sessionTimeout time.Duration, inputsHash string) *issuedToken {
	issuedAt := tok.IssuedAt.UTC().Truncate(time.Second)
	t := &issuedToken{issuedAt: issuedAt, inputsHash: inputsHash}
	t.data = map[string][]byte{
		KeyAccessToken: []byte(tok.AccessToken),
		KeyInstanceURL: []byte(tok.InstanceURL),
		KeyTokenType:   []byte(orDefault(tok.TokenType, "Bearer")),
		KeyID:          []byte(tok.ID),
		KeyOrgID:       []byte(tok.OrgID),
		KeyUserID:      []byte(tok.UserID),
	}
	t.setLifetime(sessionTimeout)
	return t
}

// clone copies the token, so a remembered copy never shares a map with a Secret.
func (t *issuedToken) clone() *issuedToken {
	c := *t
	c.data = make(map[string][]byte, len(t.data))
	for k, v := range t.data {
		c.data[k] = append([]byte(nil), v...)
	}
	return &c
}

// setLifetime derives expiry from the issue time: the token answer says nothing about it,
// the session timeout in the spec does. An introspected expiry stays.
func (t *issuedToken) setLifetime(sessionTimeout time.Duration) {
	if !t.introspected {
		t.expiresAt = t.issuedAt.Add(sessionTimeout)
	}
	t.data[KeyIssuedAt] = []byte(t.issuedAt.Format(time.RFC3339))
	t.data[KeyExpiresAt] = []byte(t.expiresAt.Format(time.RFC3339))
}

// setIntrospectedExpiry records Salesforce's own expiry for the token.
func (t *issuedToken) setIntrospectedExpiry(exp time.Time) {
	t.introspected = true
	t.expiresAt = exp.UTC().Truncate(time.Second)
	t.setLifetime(0)
}

// lifetimeMatches says whether the stored expiry is what the spec makes it: always for an
// introspected one, else issued-at plus the session timeout.
func (t *issuedToken) lifetimeMatches(sessionTimeout time.Duration) bool {
	return t.introspected || t.expiresAt.Equal(t.issuedAt.Add(sessionTimeout))
}

// fixedKeys are the token Secret's keys that record the token itself; template keys are
// derived from them.
var fixedKeys = []string{KeyAccessToken, KeyInstanceURL, KeyTokenType, KeyIssuedAt, KeyExpiresAt, KeyID, KeyOrgID, KeyUserID}

// storedToken reads the token Secret the operator wrote. It returns nil when the Secret is
// not usable as a record of a token (then a login replaces it), and says whether its data
// was edited by someone else.
func storedToken(s *corev1.Secret) (tok *issuedToken, intact bool) {
	if s == nil {
		return nil, false
	}
	issuedAt, err1 := time.Parse(time.RFC3339, s.Annotations[AnnotationIssuedAt])
	expiresAt, err2 := time.Parse(time.RFC3339, s.Annotations[AnnotationExpiresAt])
	if err1 != nil || err2 != nil || len(s.Data[KeyAccessToken]) == 0 {
		return nil, false
	}
	data := make(map[string][]byte, len(fixedKeys))
	for _, k := range fixedKeys {
		if v, ok := s.Data[k]; ok {
			data[k] = v
		}
	}
	tok = &issuedToken{data: data, issuedAt: issuedAt, expiresAt: expiresAt,
		inputsHash: s.Annotations[AnnotationInputsHash], inputsVersion: s.Annotations[AnnotationInputsVersion],
		introspected: s.Annotations[AnnotationExpirySource] == string(sfv1.ExpirySourceIntrospection)}
	return tok, s.Annotations[AnnotationDataHash] == dataHash(s.Data)
}

// metadataDrifted says whether the Secret lost any label or annotation the operator sets,
// or its template keys are not what the template renders now (the data hash annotation
// differs then).
func metadataDrifted(actual, desired *corev1.Secret) bool {
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
	return false
}

// desiredTokenSecret is the token Secret as the operator wants it: the token's fixed keys,
// the keys and metadata of spec.tokenSecret.template. When a template key cannot be
// rendered with this token, the Secret comes without the template keys, with the error:
// the token is never held back by a template.
func desiredTokenSecret(conn *sfv1.SalesforceConnection, tok *issuedToken) (*corev1.Secret, error) {
	data := make(map[string][]byte, len(tok.data))
	tmpl := conn.Spec.TokenSecret.Template
	rendered, err := tokentemplate.Render(tmpl, templateFields(conn, tok))
	for k, v := range rendered {
		data[k] = v
	}
	for k, v := range tok.data {
		data[k] = v
	}
	s := &corev1.Secret{
		ObjectMeta: ownedMeta(conn, tokenSecretName(conn)),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if tmpl != nil {
		s.Labels = mergeMaps(maps.Clone(tmpl.Metadata.Labels), s.Labels)
		s.Annotations = maps.Clone(tmpl.Metadata.Annotations)
	}
	s.Annotations = mergeMaps(s.Annotations, map[string]string{
		AnnotationIssuedAt:   tok.issuedAt.Format(time.RFC3339),
		AnnotationExpiresAt:  tok.expiresAt.Format(time.RFC3339),
		AnnotationInputsHash: tok.inputsHash,
		AnnotationDataHash:   dataHash(data),
	})
	if tok.inputsVersion != "" {
		s.Annotations[AnnotationInputsVersion] = tok.inputsVersion
	}
	if tok.introspected {
		s.Annotations[AnnotationExpirySource] = string(sfv1.ExpirySourceIntrospection)
	}
	return s, err
}

// ownedMeta is the metadata of a Secret the connection controls: its labels put the
// Secret in the operator's cache, its owner reference lets garbage collection remove it
// with the connection.
func ownedMeta(conn *sfv1.SalesforceConnection, name string) metav1.ObjectMeta {
	controller := true
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: conn.Namespace,
		Labels: map[string]string{
			LabelManagedBy:  ManagedByValue,
			LabelConnection: conn.Name,
		},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion:         sfv1.GroupVersion.String(),
			Kind:               "SalesforceConnection",
			Name:               conn.Name,
			UID:                conn.UID,
			Controller:         &controller,
			BlockOwnerDeletion: &controller,
		}},
	}
}

// templateFields are the values a template reads: the token's fixed keys and the
// connection's name. Only what the token Secret holds, so rendering again gives the
// same bytes and a Secret is rewritten only when the token or the template changed.
func templateFields(conn *sfv1.SalesforceConnection, tok *issuedToken) tokentemplate.Fields {
	f := tokentemplate.NewFields(tok.issuedAt, tok.expiresAt)
	f.AccessToken = string(tok.data[KeyAccessToken])
	f.InstanceURL = string(tok.data[KeyInstanceURL])
	f.TokenType = string(tok.data[KeyTokenType])
	f.ID = string(tok.data[KeyID])
	f.OrgID = string(tok.data[KeyOrgID])
	f.UserID = string(tok.data[KeyUserID])
	f.Name, f.Namespace = conn.Name, conn.Namespace
	return f
}

// isControlledBy says whether the connection with this UID controls the object.
func isControlledBy(obj metav1.Object, uid types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.UID == uid {
			return true
		}
	}
	return false
}

// dataHash is a digest of a Secret's data, to notice edits without keeping a copy.
func dataHash(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s;%d:", len(k), k, len(data[k]))
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
