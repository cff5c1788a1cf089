package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// issue makes a certificate for dnsName and 127.0.0.1, signed by the CA (or self-signed
// when ca is nil), and returns it with its key, in PEM.
func issue(dnsName string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		tmpl.DNSNames, tmpl.IPAddresses = []string{dnsName}, []net.IP{net.ParseIP("127.0.0.1")}
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	Expect(err).NotTo(HaveOccurred())
	cert, err := x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return cert, key,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// The chart's metrics.certSecret mounts a cert-manager Secret and passes its directory
// with --metrics-cert-path, so that Prometheus can verify the manager against the CA.
var _ = Describe("metrics certificate", Ordered, func() {
	It("serves the certificate of --metrics-cert-path, which a scraper verifies against its CA", func() {
		const serverName = "sfconn-controller-manager-metrics-service.sfconn-system.svc"
		ca, caKey, _, _ := issue("sfconn test CA", nil, nil)
		_, _, certPEM, keyPEM := issue(serverName, ca, caKey)
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600)).To(Succeed())

		// A standby replica: the running manager holds the lease, and a standby serves
		// metrics too. The later flags win over startManager's defaults.
		standby := startManager("--metrics-secure=true", "--metrics-cert-path="+dir)
		DeferCleanup(standby.stop)

		roots := x509.NewCertPool()
		roots.AddCert(ca)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12},
		}}
		Eventually(func(g Gomega) {
			resp, err := client.Get("https://" + standby.metricsAddr + "/metrics")
			g.Expect(err).NotTo(HaveOccurred(), "the TLS handshake verifies the certificate against the CA")
			defer func() { _ = resp.Body.Close() }()
			// Verified, and still authenticated: a caller without a token is refused.
			g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
		}).Should(Succeed())

		By("refusing the handshake for a name the certificate is not for")
		other := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "elsewhere.example.com", MinVersion: tls.VersionTLS12},
		}}
		_, err := other.Get("https://" + standby.metricsAddr + "/metrics")
		Expect(err).To(MatchError(ContainSubstring("certificate")))
	})
})
