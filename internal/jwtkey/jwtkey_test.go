package jwtkey

import (
	"strings"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p, err := Generate("billing/crm", 2*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(p.KeyPEM), "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(string(p.CertPEM), "-----BEGIN CERTIFICATE-----") {
		t.Fatal("the key and certificate are not PEM of the expected types")
	}
	if strings.Contains(string(p.CertPEM), "PRIVATE") {
		t.Fatal("the certificate carries private material")
	}
	c, err := Inspect(p.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if c.CommonName != "billing/crm" || !c.NotAfter.Equal(now.Add(2*365*24*time.Hour)) || !c.NotBefore.Before(now) {
		t.Fatalf("certificate = %+v", c)
	}
	if len(c.Fingerprint) != 32*3-1 || strings.Count(c.Fingerprint, ":") != 31 {
		t.Fatalf("fingerprint %q is not colon-separated SHA-256", c.Fingerprint)
	}
	if !Matches(p.KeyPEM, p.CertPEM) {
		t.Fatal("a key does not match its own certificate")
	}
	other, err := Generate(strings.Repeat("x", 100), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if Matches(other.KeyPEM, p.CertPEM) || Matches([]byte("junk"), p.CertPEM) {
		t.Fatal("a key matched a certificate it was not made for")
	}
	if oc, _ := Inspect(other.CertPEM); len(oc.CommonName) != 64 {
		t.Fatalf("common name of %d characters, want 64", len(oc.CommonName))
	}
	if _, err := Generate("x", 0, now); err == nil {
		t.Fatal("a zero validity was accepted")
	}
	if _, err := Inspect(p.KeyPEM); err == nil {
		t.Fatal("a key was read as a certificate")
	}
}
