package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
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

// setLifetime derives expiry from the issue time: Salesforce says nothing about it, the
// session timeout in the spec does.
func (t *issuedToken) setLifetime(sessionTimeout time.Duration) {
	t.expiresAt = t.issuedAt.Add(sessionTimeout)
	t.data[KeyIssuedAt] = []byte(t.issuedAt.Format(time.RFC3339))
	t.data[KeyExpiresAt] = []byte(t.expiresAt.Format(time.RFC3339))
}

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
	tok = &issuedToken{data: s.Data, issuedAt: issuedAt, expiresAt: expiresAt, inputsHash: s.Annotations[AnnotationInputsHash]}
	return tok, s.Annotations[AnnotationDataHash] == dataHash(s.Data)
}

// metadataDrifted says whether the Secret lost any label or annotation the operator sets.
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

// desiredTokenSecret is the token Secret as the operator wants it.
func desiredTokenSecret(conn *sfv1.SalesforceConnection, tok *issuedToken) *corev1.Secret {
	data := make(map[string][]byte, len(tok.data))
	for k, v := range tok.data {
		data[k] = v
	}
	controller := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      tokenSecretName(conn),
			Namespace: conn.Namespace,
			Labels: map[string]string{
				LabelManagedBy:  ManagedByValue,
				LabelConnection: conn.Name,
			},
			Annotations: map[string]string{
				AnnotationIssuedAt:   tok.issuedAt.Format(time.RFC3339),
				AnnotationExpiresAt:  tok.expiresAt.Format(time.RFC3339),
				AnnotationInputsHash: tok.inputsHash,
				AnnotationDataHash:   dataHash(data),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         sfv1.GroupVersion.String(),
				Kind:               "SalesforceConnection",
				Name:               conn.Name,
				UID:                conn.UID,
				Controller:         &controller,
				BlockOwnerDeletion: &controller,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
}

// isControlledBy says whether the connection with this UID owns the Secret.
func isControlledBy(s *corev1.Secret, uid types.UID) bool {
	for _, ref := range s.OwnerReferences {
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
