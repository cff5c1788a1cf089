package controller

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/jwtkey"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

// Keys of the generated key Secret (<name>-jwt, a kubernetes.io/tls Secret) and of the
// certificate ConfigMap (<name>-jwt-certificate). The next pair exists only while a
// certificate nears its end: both certificates are published, and the next becomes
// current once a login with it succeeds.
const (
	keyNextKey      = "next.key"
	keyNextCert     = "next.crt"
	keyInstructions = "instructions.txt"
)

const defaultCertificateValidity = 2 * 365 * 24 * time.Hour

// keyMaterial is a connection's generated key pair, and the next one while a rotation
// is under way.
type keyMaterial struct {
	keyPEM, certPEM         []byte
	nextKeyPEM, nextCertPEM []byte
	cert, next              *jwtkey.Certificate
	// version is the key Secret's resourceVersion the material was read from or written
	// as: a write over any other version would replace a key it never saw.
	version string
}

// generatedKey keeps the key pair of spec.auth.jwtBearer.generateKey: the key Secret and
// the certificate ConfigMap exist and agree, a key is made on first use and the next one
// a third of the validity before the current certificate ends. It reads both from the
// cache and writes only what differs, so a pass at rest costs nothing. It owns
// status.jwtCertificate and is due when the next key is to be made.
func (r *Reconciler) generatedKey(ctx context.Context, p *pass) (time.Time, error) {
	conn := p.conn
	if conn.Spec.Auth.JWTBearer == nil || !conn.Spec.Auth.JWTBearer.GenerateKey {
		p.status.JWTCertificate = nil
		return time.Time{}, nil
	}
	km, err := r.ensureKey(ctx, p)
	if foreign := (*owned.ForeignError)(nil); errors.As(err, &foreign) {
		p.status.JWTCertificate = nil
		p.fail(foreignKeyObject(conn, foreign))
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, err
	}
	p.keys = km
	p.status.JWTCertificate = certificateStatus(conn, km)
	return km.rotationAt(), nil
}

// certificateStatus is what status says about the published certificates.
func certificateStatus(conn *sfv1.SalesforceConnection, km *keyMaterial) *sfv1.GeneratedCertificate {
	st := &sfv1.GeneratedCertificate{
		SecretName:    authflow.KeySecretName(conn),
		ConfigMapName: authflow.CertificateConfigMapName(conn),
		Fingerprint:   km.cert.Fingerprint,
		NotAfter:      statusTime(km.cert.NotAfter),
	}
	if km.next != nil {
		st.NextFingerprint = km.next.Fingerprint
		st.NextNotAfter = timePtr(km.next.NotAfter)
	}
	return st
}

// foreignKeyObject says which name of the generated key someone else's object holds; the
// spec cannot work as written, which no retry fixes.
func foreignKeyObject(conn *sfv1.SalesforceConnection, e *owned.ForeignError) *failure.Failure {
	if e.Kind == "ConfigMap" {
		return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
			"%s; the operator will not overwrite it with the certificate: delete it, then run kubectl sfconn renew %s -n %s", e, conn.Name, conn.Namespace)
	}
	return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
		"%s; the operator will not overwrite it with a generated key: delete it or rename the connection", e)
}

func (r *Reconciler) ensureKey(ctx context.Context, p *pass) (*keyMaterial, error) {
	conn := p.conn
	var s corev1.Secret
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: authflow.KeySecretName(conn)}, &s)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if err == nil && !owned.IsControlledBy(&s, conn.UID) {
		return nil, &owned.ForeignError{Kind: "Secret", Name: s.Name}
	}
	km := &keyMaterial{version: s.ResourceVersion,
		keyPEM: s.Data[corev1.TLSPrivateKeyKey], certPEM: s.Data[corev1.TLSCertKey],
		nextKeyPEM: s.Data[keyNextKey], nextCertPEM: s.Data[keyNextCert]}
	changed := false
	if km.cert, err = jwtkey.Inspect(km.certPEM); err != nil || !jwtkey.Matches(km.keyPEM, km.certPEM) {
		// Missing, or edited into something unusable: a new pair, which the admin must
		// upload again; the status says so.
		pair, err := jwtkey.Generate(certificateSubject(conn), certificateValidity(conn), p.now)
		if err != nil {
			return nil, err
		}
		km.keyPEM, km.certPEM, km.nextKeyPEM, km.nextCertPEM = pair.KeyPEM, pair.CertPEM, nil, nil
		km.cert, _ = jwtkey.Inspect(km.certPEM)
		changed = true
	}
	if len(km.nextCertPEM) > 0 {
		if km.next, err = jwtkey.Inspect(km.nextCertPEM); err != nil || !jwtkey.Matches(km.nextKeyPEM, km.nextCertPEM) {
			km.nextKeyPEM, km.nextCertPEM, km.next = nil, nil, nil
			changed = true
		}
	}
	if km.next == nil && !p.now.Before(km.rotationAt()) {
		pair, err := jwtkey.Generate(certificateSubject(conn), certificateValidity(conn), p.now)
		if err != nil {
			return nil, err
		}
		km.nextKeyPEM, km.nextCertPEM = pair.KeyPEM, pair.CertPEM
		km.next, _ = jwtkey.Inspect(km.nextCertPEM)
		changed = true
		p.log.Info("Generated the next JWT key: publish its certificate to the connected app", "currentNotAfter", km.cert.NotAfter)
	}
	if changed {
		if err := r.writeKey(ctx, conn, km); err != nil {
			return nil, err
		}
	}
	return km, r.publishCertificate(ctx, conn, km)
}

// rotationAt is when the next key is made: a third of the current certificate's validity
// before it ends, time enough for an admin to upload the next certificate. Zero while a
// next key exists.
func (km *keyMaterial) rotationAt() time.Time {
	if km.next != nil || km.cert == nil {
		return time.Time{}
	}
	validity := km.cert.NotAfter.Sub(km.cert.NotBefore)
	return km.cert.NotAfter.Add(-validity / 3)
}

// writeKey writes the key Secret over the version the material came from, and no other.
func (r *Reconciler) writeKey(ctx context.Context, conn *sfv1.SalesforceConnection, km *keyMaterial) error {
	s := &corev1.Secret{}
	s.Namespace, s.Name = conn.Namespace, authflow.KeySecretName(conn)
	err := owned.Ensure(ctx, r.clients(), conn, s, func() error {
		if s.ResourceVersion != km.version {
			// The cache is behind a write, or someone changed the key meanwhile: the next
			// pass decides again on what is there.
			return apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, s.Name,
				errors.New("the key Secret changed since it was read"))
		}
		s.Type = corev1.SecretTypeTLS
		s.Data = map[string][]byte{corev1.TLSPrivateKeyKey: km.keyPEM, corev1.TLSCertKey: km.certPEM}
		if km.next != nil {
			s.Data[keyNextKey], s.Data[keyNextCert] = km.nextKeyPEM, km.nextCertPEM
		}
		return nil
	})
	if err == nil {
		km.version = s.ResourceVersion
	}
	return err
}

// publishCertificate keeps the ConfigMap the admin is given in step with the key Secret:
// the certificates (never a key) and the instructions.
func (r *Reconciler) publishCertificate(ctx context.Context, conn *sfv1.SalesforceConnection, km *keyMaterial) error {
	data := map[string]string{corev1.TLSCertKey: string(km.certPEM), keyInstructions: authflow.AdminInstructions(conn, km.cert)}
	if km.next != nil {
		data[keyNextCert] = string(km.nextCertPEM)
	}
	cm := &corev1.ConfigMap{}
	cm.Namespace, cm.Name = conn.Namespace, authflow.CertificateConfigMapName(conn)
	return owned.Ensure(ctx, r.clients(), conn, cm, func() error {
		cm.Data = data
		return nil
	})
}

// generatedKeys lends a pass's key material to the generated key flow.
type generatedKeys struct {
	r *Reconciler
	p *pass
}

func (g *generatedKeys) CurrentKey() []byte { return g.p.keys.keyPEM }
func (g *generatedKeys) NextKey() []byte    { return g.p.keys.nextKeyPEM }

// PromoteNext makes the next key current once Salesforce accepted it.
func (g *generatedKeys) PromoteNext(ctx context.Context) error {
	km := g.p.keys
	next := *km
	next.keyPEM, next.certPEM, next.cert = km.nextKeyPEM, km.nextCertPEM, km.next
	next.nextKeyPEM, next.nextCertPEM, next.next = nil, nil, nil
	if err := g.r.writeKey(ctx, g.p.conn, &next); err != nil {
		return err
	}
	*km = next
	g.p.status.JWTCertificate = certificateStatus(g.p.conn, km)
	return g.r.publishCertificate(ctx, g.p.conn, km)
}

// certificateSubject names the connection in its certificate.
func certificateSubject(conn *sfv1.SalesforceConnection) string {
	return "sfconn " + conn.Namespace + "/" + conn.Name
}

func certificateValidity(conn *sfv1.SalesforceConnection) time.Duration {
	if v := conn.Spec.Auth.JWTBearer.CertificateValidity; v != nil && v.Duration > 0 {
		return v.Duration
	}
	return defaultCertificateValidity
}
