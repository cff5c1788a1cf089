package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/jwtkey"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
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

const (
	defaultCertificateValidity = 2 * 365 * 24 * time.Hour
	// awaitingAdminRetry is how often a connection waiting for a Salesforce admin tries
	// again: a person's work takes minutes, and each try is a failed login.
	awaitingAdminRetry = 5 * time.Minute
)

func jwtKeySecretName(conn *sfv1.SalesforceConnection) string { return conn.Name + "-jwt" }
func jwtCertificateConfigMapName(conn *sfv1.SalesforceConnection) string {
	return conn.Name + "-jwt-certificate"
}

func generatesKey(conn *sfv1.SalesforceConnection) bool {
	return conn.Spec.Auth.JWTBearer != nil && conn.Spec.Auth.JWTBearer.GenerateKey
}

func certificateValidity(conn *sfv1.SalesforceConnection) time.Duration {
	if v := conn.Spec.Auth.JWTBearer.CertificateValidity; v != nil && v.Duration > 0 {
		return v.Duration
	}
	return defaultCertificateValidity
}

// keyMaterial is a connection's generated key pair, and the next one while a rotation
// is under way.
type keyMaterial struct {
	keyPEM, certPEM         []byte
	nextKeyPEM, nextCertPEM []byte
	cert, next              *jwtkey.Certificate
}

// ensureJWTKey makes sure the generated key Secret and the certificate ConfigMap exist
// and agree, creating a key on first use and the next one a third of the validity before
// the current certificate ends. It reads both from the cache and writes only what
// differs, so a pass at rest costs nothing.
func (r *Reconciler) ensureJWTKey(ctx context.Context, conn *sfv1.SalesforceConnection, now time.Time) (*keyMaterial, error) {
	var s corev1.Secret
	key := types.NamespacedName{Namespace: conn.Namespace, Name: jwtKeySecretName(conn)}
	err := r.Client.Get(ctx, key, &s)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the key Secret: %w", err)
	}
	exists := err == nil
	if exists && !isControlledBy(&s, conn.UID) {
		return nil, foreignObjectError{fmt.Sprintf("Secret %s exists and is not controlled by this SalesforceConnection; the operator will not overwrite it with a generated key: delete it or rename the connection", key.Name)}
	}
	km := &keyMaterial{}
	if exists {
		km.keyPEM, km.certPEM = s.Data[corev1.TLSPrivateKeyKey], s.Data[corev1.TLSCertKey]
		km.nextKeyPEM, km.nextCertPEM = s.Data[keyNextKey], s.Data[keyNextCert]
	}
	changed := false
	if km.cert, err = jwtkey.Inspect(km.certPEM); err != nil || !jwtkey.Matches(km.keyPEM, km.certPEM) {
		// Missing, or edited into something unusable: a new pair, which the admin must
		// upload again; the status says so.
		pair, err := jwtkey.Generate(certificateSubject(conn), certificateValidity(conn), now)
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
	if km.next == nil && !now.Before(km.rotationAt()) {
		pair, err := jwtkey.Generate(certificateSubject(conn), certificateValidity(conn), now)
		if err != nil {
			return nil, err
		}
		km.nextKeyPEM, km.nextCertPEM = pair.KeyPEM, pair.CertPEM
		km.next, _ = jwtkey.Inspect(km.nextCertPEM)
		changed = true
		logf.FromContext(ctx).Info("Generated the next JWT key: publish its certificate to the connected app",
			"connection", klog.KObj(conn), "currentNotAfter", km.cert.NotAfter)
	}
	if changed {
		if err := r.writeKeySecret(ctx, conn, km, exists, &s); err != nil {
			return nil, err
		}
	}
	if err := r.publishCertificate(ctx, conn, km); err != nil {
		return nil, err
	}
	return km, nil
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

// foreignOr reads an object that exists although the cache does not show it: a
// foreignObjectError when somebody else's, else err (the cache is behind a write of ours).
func (r *Reconciler) foreignOr(ctx context.Context, obj client.Object, meta metav1.ObjectMeta, err error, format string) error {
	if getErr := r.APIReader.Get(ctx, types.NamespacedName{Namespace: meta.Namespace, Name: meta.Name}, obj); getErr != nil {
		return fmt.Errorf("reading %s: %w", meta.Name, getErr)
	}
	if !isControlledBy(obj, meta.OwnerReferences[0].UID) {
		return foreignObjectError{fmt.Sprintf(format, meta.Name)}
	}
	return err
}

// foreignObjectError is a name the generated key needs, taken by someone else's object:
// the spec cannot work as written, which no retry fixes.
type foreignObjectError struct{ message string }

func (e foreignObjectError) Error() string { return e.message }

// certificateSubject names the connection in its certificate.
func certificateSubject(conn *sfv1.SalesforceConnection) string {
	return "sfconn " + conn.Namespace + "/" + conn.Name
}

func (r *Reconciler) writeKeySecret(ctx context.Context, conn *sfv1.SalesforceConnection, km *keyMaterial, exists bool, current *corev1.Secret) error {
	data := map[string][]byte{corev1.TLSPrivateKeyKey: km.keyPEM, corev1.TLSCertKey: km.certPEM}
	if km.next != nil {
		data[keyNextKey], data[keyNextCert] = km.nextKeyPEM, km.nextCertPEM
	}
	meta := ownedMeta(conn, jwtKeySecretName(conn))
	if !exists {
		s := &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS, Data: data}
		err := r.Client.Create(ctx, s)
		if apierrors.IsAlreadyExists(err) {
			// The cache holds only the operator's own Secrets: one it does not show may
			// be somebody else's.
			return r.foreignOr(ctx, &corev1.Secret{}, meta, err,
				"Secret %s exists and is not controlled by this SalesforceConnection; the operator will not overwrite it with a generated key: delete it or rename the connection")
		}
		return wrapErr("creating the key Secret", err)
	}
	updated := current.DeepCopy()
	updated.Labels = mergeMaps(updated.Labels, meta.Labels)
	updated.OwnerReferences = meta.OwnerReferences
	updated.Data = data
	return wrapErr("updating the key Secret", r.Client.Update(ctx, updated))
}

// publishCertificate keeps the ConfigMap the admin is given in step with the key Secret:
// the certificates (never a key) and the instructions.
func (r *Reconciler) publishCertificate(ctx context.Context, conn *sfv1.SalesforceConnection, km *keyMaterial) error {
	data := map[string]string{corev1.TLSCertKey: string(km.certPEM), keyInstructions: adminInstructions(conn, km, "")}
	if km.next != nil {
		data[keyNextCert] = string(km.nextCertPEM)
	}
	meta := ownedMeta(conn, jwtCertificateConfigMapName(conn))
	var cm corev1.ConfigMap
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(&corev1.ConfigMap{ObjectMeta: meta}), &cm)
	switch {
	case apierrors.IsNotFound(err):
		err := r.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: data})
		if apierrors.IsAlreadyExists(err) {
			return r.foreignOr(ctx, &corev1.ConfigMap{}, meta, err, "ConfigMap %s exists and is not controlled by this SalesforceConnection; "+
				"the operator will not overwrite it with the certificate: delete it, then run kubectl sfconn renew "+conn.Name+" -n "+conn.Namespace)
		}
		return wrapErr("creating the certificate ConfigMap", err)
	case err != nil:
		return fmt.Errorf("reading the certificate ConfigMap: %w", err)
	case !isControlledBy(&cm, conn.UID):
		return foreignObjectError{fmt.Sprintf("ConfigMap %s exists and is not controlled by this SalesforceConnection; the operator will not overwrite it with the certificate: delete it, then run kubectl sfconn renew %s -n %s", meta.Name, conn.Name, conn.Namespace)}
	}
	if maps.Equal(cm.Data, data) && cm.Labels[LabelManagedBy] == ManagedByValue {
		return nil
	}
	updated := cm.DeepCopy()
	updated.Labels = mergeMaps(updated.Labels, meta.Labels)
	updated.OwnerReferences = meta.OwnerReferences
	updated.Data = data
	return wrapErr("updating the certificate ConfigMap", r.Client.Update(ctx, updated))
}

// promoteNextKey makes the next key current once Salesforce accepted it.
func (r *Reconciler) promoteNextKey(ctx context.Context, conn *sfv1.SalesforceConnection, km *keyMaterial) error {
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: jwtKeySecretName(conn)}, &s); err != nil {
		return fmt.Errorf("reading the key Secret: %w", err)
	}
	if !bytes.Equal(s.Data[keyNextKey], km.nextKeyPEM) {
		return errors.New("the key Secret changed while the next key was tried")
	}
	km.keyPEM, km.certPEM, km.cert = km.nextKeyPEM, km.nextCertPEM, km.next
	km.nextKeyPEM, km.nextCertPEM, km.next = nil, nil, nil
	if err := r.writeKeySecret(ctx, conn, km, true, &s); err != nil {
		return err
	}
	return r.publishCertificate(ctx, conn, km)
}

// loginWithGeneratedKey signs with the current key, and with the next one when Salesforce
// refuses the current: an admin who uploaded the next certificate has replaced the
// current one (a connected app holds one), and the next key then becomes current.
func (r *Reconciler) loginWithGeneratedKey(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts) (*salesforce.Token, error) {
	km := f.jwtKey
	key, err := salesforce.ParseRSAPrivateKey(km.keyPEM)
	if err != nil {
		return nil, clusterError{fmt.Errorf("the generated key: %w", err)}
	}
	f.inputs.request.PrivateKey = key
	tok, err := r.login(ctx, conn, f.inputs)
	if err == nil || km.next == nil || salesforce.ClassOf(err) != salesforce.Terminal {
		return tok, err
	}
	next, perr := salesforce.ParseRSAPrivateKey(km.nextKeyPEM)
	if perr != nil {
		return nil, err
	}
	f.inputs.request.PrivateKey = next
	tok, nextErr := r.login(ctx, conn, f.inputs)
	if nextErr != nil {
		// The first refusal says more: the current key is the one expected to work.
		return nil, err
	}
	logf.FromContext(ctx).Info("Salesforce accepted the next JWT key; it is now the current one", "connection", klog.KObj(conn))
	if err := r.promoteNextKey(ctx, conn, km); err != nil {
		return nil, clusterError{err}
	}
	return tok, nil
}

// generatedCertificateStatus is what status says about the published certificates.
func generatedCertificateStatus(conn *sfv1.SalesforceConnection, km *keyMaterial) *sfv1.GeneratedCertificate {
	if km == nil {
		return nil
	}
	st := &sfv1.GeneratedCertificate{
		SecretName:    jwtKeySecretName(conn),
		ConfigMapName: jwtCertificateConfigMapName(conn),
		Fingerprint:   km.cert.Fingerprint,
		NotAfter:      statusTime(km.cert.NotAfter),
	}
	if km.next != nil {
		st.NextFingerprint = km.next.Fingerprint
		st.NextNotAfter = timePtr(km.next.NotAfter)
	}
	return st
}

// Steps an admin takes, each named by the Salesforce error its absence causes.
var adminSteps = []struct {
	code, description, step string
}{
	{"invalid_client_id", "", "Create the connected app (Setup → App Manager → New Connected App; or an External Client App) with OAuth enabled and the scopes the workloads need (at least \"api\" and \"refresh_token, offline_access\"), or check that the consumer key in the connection is this app's. A new app can take a few minutes to reach every Salesforce server."},
	{"invalid_grant", "invalid assertion", "In the connected app, tick \"Use digital signatures\" and upload the certificate from ConfigMap %s (key tls.crt). Upload next.crt instead when the ConfigMap has one."},
	{"invalid_grant", "user hasn't approved this consumer", "In the connected app's policies (Manage → Edit Policies), set Permitted Users to \"Admin approved users are pre-authorized\", and assign the profile or a permission set of user %s to the app."},
}

// adminStep is step i of adminSteps, with this connection's names in it.
func adminStep(conn *sfv1.SalesforceConnection, i int) string {
	switch i {
	case 1:
		return fmt.Sprintf(adminSteps[i].step, jwtCertificateConfigMapName(conn))
	case 2:
		return fmt.Sprintf(adminSteps[i].step, orDefault(conn.Spec.Auth.JWTBearer.Username, "(the connection's username)"))
	}
	return adminSteps[i].step
}

// adminInstructions are the steps a Salesforce admin takes for a generated key, with the
// error seen, if any, mapped to the step that fixes it.
func adminInstructions(conn *sfv1.SalesforceConnection, km *keyMaterial, seen string) string {
	var b strings.Builder
	jwt := conn.Spec.Auth.JWTBearer
	fmt.Fprintf(&b, "SalesforceConnection %s/%s signs in with the OAuth 2.0 JWT bearer flow, with a key the operator generated.\n", conn.Namespace, conn.Name)
	fmt.Fprintf(&b, "Consumer key: %s\nUser: %s\nLogin URL: %s\n", orDefault(jwt.ClientID, "(client_id of Secret "+jwt.CredentialsSecretRef.Name+")"),
		orDefault(jwt.Username, "(username of Secret "+jwt.CredentialsSecretRef.Name+")"), loginURLOf(conn))
	if km != nil && km.cert != nil {
		fmt.Fprintf(&b, "Certificate: ConfigMap %s, key tls.crt, SHA-256 fingerprint %s, valid until %s\n",
			jwtCertificateConfigMapName(conn), km.cert.Fingerprint, stamp(km.cert.NotAfter))
	}
	b.WriteString("\nA Salesforce admin:\n")
	for i := range adminSteps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, adminStep(conn, i))
	}
	if seen != "" {
		fmt.Fprintf(&b, "\nSalesforce answered: %s\n", seen)
	}
	return b.String()
}

// awaitingAdmin turns a refused JWT login with a generated key into the step the admin
// has still to take. Every refusal waits for the admin, not only the three that name a
// step: the key is the operator's own and the rest is set in Salesforce, so nothing in the
// cluster can fix it, and a terminal failure would wait for a change that never comes.
// Nil for failures that are not refusals.
func awaitingAdmin(err error, conn *sfv1.SalesforceConnection, f *facts) *failure {
	var e *salesforce.Error
	if !generatesKey(conn) || !errors.As(err, &e) || e.Class != salesforce.Terminal {
		return nil
	}
	retryAt := f.now.Add(backoff(sfv1.ReasonAwaitingAdmin, 1, f.uid))
	for i, s := range adminSteps {
		if e.Code != s.code || (s.description != "" && !strings.EqualFold(strings.TrimSpace(e.Description), s.description)) {
			continue
		}
		step := adminStep(conn, i)
		return &failure{reason: sfv1.ReasonAwaitingAdmin, retryAt: retryAt,
			message: fmt.Sprintf("Waiting for a Salesforce admin: Salesforce answered %q, so step %d is not done yet: %s "+
				"`kubectl sfconn admin-instructions %s -n %s` prints every step with the certificate. The operator tries again every %s, or at once after `kubectl sfconn renew %s -n %s`",
				e.Code+": "+e.Description, i+1, step, conn.Name, conn.Namespace, shortDuration(awaitingAdminRetry), conn.Name, conn.Namespace)}
	}
	return &failure{reason: sfv1.ReasonAwaitingAdmin, retryAt: retryAt,
		message: fmt.Sprintf("Waiting for a Salesforce admin: Salesforce refused the login with the generated key (%v). "+
			"Check the connected app, the certificate from ConfigMap %s and the user's pre-authorization: `kubectl sfconn admin-instructions %s -n %s` prints every step. "+
			"The operator tries again every %s, or at once after `kubectl sfconn renew %s -n %s`",
			err, jwtCertificateConfigMapName(conn), conn.Name, conn.Namespace, shortDuration(awaitingAdminRetry), conn.Name, conn.Namespace)}
}
