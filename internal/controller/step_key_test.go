package controller

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/jwtkey"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

// The generated key step makes the key Secret and the certificate ConfigMap once, says
// where they are in status, and is next due when the next key is to be made; a pass at
// rest writes nothing.
func TestGeneratedKeyCreatedOnceThenAtRest(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(viaGeneratedKey()), credentials())

	p := h.newPass(hName)
	next, err := h.r.generatedKey(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if p.failure != nil {
		t.Fatalf("failure = %+v", p.failure)
	}
	if w := h.allWrites(); len(w) != 2 || h.countWrites("create", "Secret", "crm-jwt") != 1 ||
		h.countWrites("create", "ConfigMap", "crm-jwt-certificate") != 1 {
		t.Fatalf("writes = %v, want the key Secret and the certificate ConfigMap created", w)
	}

	s := h.getSecret("crm-jwt")
	if s.Type != corev1.SecretTypeTLS || !jwtkey.Matches(s.Data[corev1.TLSPrivateKeyKey], s.Data[corev1.TLSCertKey]) {
		t.Fatalf("key Secret: type %s, keys %v: want a matching tls.key and tls.crt", s.Type, keysOf(s.Data))
	}
	if !owned.IsControlledBy(s, hUID) || !owned.IsManaged(s) {
		t.Errorf("key Secret not controlled and labelled: %+v", s.ObjectMeta)
	}
	cm := h.getConfigMap("crm-jwt-certificate")
	if cm == nil || cm.Data[corev1.TLSCertKey] != string(s.Data[corev1.TLSCertKey]) || cm.Data[keyInstructions] == "" {
		t.Fatalf("certificate ConfigMap = %+v, want the certificate and the instructions", cm)
	}
	for k, v := range cm.Data {
		if strings.Contains(v, "PRIVATE KEY") {
			t.Errorf("ConfigMap key %q holds a private key", k)
		}
	}
	if !owned.IsControlledBy(cm, hUID) {
		t.Errorf("ConfigMap not controlled by the connection")
	}

	cert, err := jwtkey.Inspect(s.Data[corev1.TLSCertKey])
	if err != nil {
		t.Fatal(err)
	}
	want := &sfv1.GeneratedCertificate{SecretName: "crm-jwt", ConfigMapName: "crm-jwt-certificate",
		Fingerprint: cert.Fingerprint, NotAfter: statusTime(cert.NotAfter)}
	if got := p.status.JWTCertificate; got == nil || *got != *want {
		t.Errorf("status.jwtCertificate = %+v, want %+v", got, want)
	}
	rotation := cert.NotAfter.Add(-cert.NotAfter.Sub(cert.NotBefore) / 3)
	if !next.Equal(rotation) || !next.After(p.now) {
		t.Errorf("next = %v, want the rotation time %v", next, rotation)
	}
	if p.keys == nil || !bytes.Equal(p.keys.keyPEM, s.Data[corev1.TLSPrivateKeyKey]) {
		t.Errorf("the pass does not hold the key for the token step")
	}

	h.resetWrites()
	h.clk.Step(24 * time.Hour)
	p = h.newPass(hName)
	p.status.JWTCertificate = nil
	again, err := h.r.generatedKey(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("at rest: writes = %v, want none", w)
	}
	if !again.Equal(next) || p.status.JWTCertificate == nil || p.status.JWTCertificate.Fingerprint != cert.Fingerprint {
		t.Errorf("at rest: next %v, certificate %+v", again, p.status.JWTCertificate)
	}
}

// A Secret named <name>-jwt that the connection does not control is never written over:
// the connection is stalled with a failure that names it, and nothing is sent.
func TestGeneratedKeyForeignSecret(t *testing.T) {
	h := newHarness(t)
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hNamespace, Name: "crm-jwt"},
		Data: map[string][]byte{"tls.key": []byte("someone else's")}}
	h.add(h.newConn(viaGeneratedKey()), credentials(), theirs)

	p := h.newPass(hName)
	next, err := h.r.generatedKey(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if p.failure == nil || p.failure.Class != failure.Terminal || p.failure.Reason != sfv1.ReasonInvalidSpec ||
		!strings.Contains(p.failure.Message, "Secret crm-jwt") {
		t.Fatalf("failure = %+v, want Terminal InvalidSpec naming Secret crm-jwt", p.failure)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	if !next.IsZero() || p.status.JWTCertificate != nil || p.keys != nil {
		t.Errorf("next %v, certificate %+v, keys %v", next, p.status.JWTCertificate, p.keys != nil)
	}

	// The whole pass: stalled, no login, their Secret as it was.
	if _, err := h.reconcile(hName); err != nil {
		t.Fatal(err)
	}
	st := h.getConn(hName).Status
	if got := conditionOf(&st, sfv1.ConditionStalled); got != "True/"+sfv1.ReasonInvalidSpec ||
		!strings.Contains(conditionMessage(&st, sfv1.ConditionStalled), "Secret crm-jwt") {
		t.Errorf("Stalled = %s %q", got, conditionMessage(&st, sfv1.ConditionStalled))
	}
	if got := conditionOf(&st, sfv1.ConditionReady); got != "False/"+sfv1.ReasonInvalidSpec {
		t.Errorf("Ready = %s", got)
	}
	if n := h.requests(""); n != 0 {
		t.Errorf("Salesforce requests = %d, want none", n)
	}
	if s := h.getSecret("crm-jwt"); string(s.Data["tls.key"]) != "someone else's" || len(s.OwnerReferences) != 0 || owned.IsManaged(s) {
		t.Errorf("their Secret was changed: %+v", s)
	}
	if n := h.countWrites("", "Secret", "crm-jwt") + h.countWrites("", "ConfigMap", ""); n != 0 {
		t.Errorf("writes = %v, want none of the key's objects", h.allWrites())
	}
}

// Past the rotation time the step makes the next key and publishes its certificate next
// to the current one, which stays in use.
func TestGeneratedKeyPublishesTheNextCertificate(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(viaGeneratedKey()), credentials())
	p := h.newPass(hName)
	rotation, err := h.r.generatedKey(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	current := h.getSecret("crm-jwt").Data[corev1.TLSCertKey]

	h.resetWrites()
	h.clk.SetTime(rotation.Add(-time.Second))
	if _, err := h.r.generatedKey(h.ctx, h.newPass(hName)); err != nil {
		t.Fatal(err)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Fatalf("a second before the rotation: writes = %v, want none", w)
	}

	h.clk.SetTime(rotation)
	p = h.newPass(hName)
	next, err := h.r.generatedKey(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	s, cm := h.getSecret("crm-jwt"), h.getConfigMap("crm-jwt-certificate")
	if !bytes.Equal(s.Data[corev1.TLSCertKey], current) || cm.Data[corev1.TLSCertKey] != string(current) {
		t.Errorf("the current certificate changed")
	}
	if !jwtkey.Matches(s.Data[keyNextKey], s.Data[keyNextCert]) {
		t.Fatalf("key Secret keys %v: want a matching next.key and next.crt", keysOf(s.Data))
	}
	if cm.Data[keyNextCert] != string(s.Data[keyNextCert]) {
		t.Errorf("ConfigMap does not publish next.crt")
	}
	nextCert, err := jwtkey.Inspect(s.Data[keyNextCert])
	if err != nil {
		t.Fatal(err)
	}
	st := p.status.JWTCertificate
	if st == nil || st.NextFingerprint != nextCert.Fingerprint || st.NextNotAfter == nil || st.Fingerprint == st.NextFingerprint {
		t.Errorf("status.jwtCertificate = %+v, want the next certificate too", st)
	}
	if h.countWrites("update", "Secret", "crm-jwt") != 1 || h.countWrites("update", "ConfigMap", "crm-jwt-certificate") != 1 {
		t.Errorf("writes = %v, want one update of each", h.allWrites())
	}
	if !next.IsZero() {
		t.Errorf("next = %v, want none while a next key waits", next)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
