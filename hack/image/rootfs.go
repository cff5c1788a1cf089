package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// NonRoot is the user the manager runs as: the uid distroless calls nonroot, so that a
// pod's runAsNonRoot can check it without resolving a name.
const NonRoot = 65532

// ManagerPath is where the binary lives; the image's entrypoint.
const ManagerPath = "/manager"

// CABundlePath is the first file Go's crypto/x509 reads on Linux, so no SSL_CERT_FILE is
// needed; a user behind a TLS-inspecting proxy mounts their own bundle over it.
const CABundlePath = "/etc/ssl/certs/ca-certificates.crt"

// entry is one file or directory of a layer.
type entry struct {
	name     string // without the leading slash, as in a tar
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// baseEntries are what a static Go binary needs around it: users for the non-root uid, the
// CA bundle for TLS to Salesforce and the API server, a resolver order, and a writable /tmp.
// No shell, no package manager: nothing an attacker could use after a compromise.
func baseEntries() ([]entry, error) {
	certs, err := caBundle()
	if err != nil {
		return nil, err
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)
	group := "root:x:0:\nnobody:x:65534:\n" + fmt.Sprintf("nonroot:x:%d:\n", NonRoot)
	return []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		// Go's resolver reads it for the order of /etc/hosts and DNS.
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: NonRoot, gid: NonRoot, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}, nil
}

// caBundle writes the Mozilla roots that golang.org/x/crypto/x509roots/fallback carries as
// PEM. That module is pinned in go.sum, so the bundle is the same on every machine, and the
// Go team refreshes it from NSS; the build host's own bundle would differ from host to host.
// Roots with a constraint (distrust after a date) are left out: a PEM file cannot say it,
// and trusting them unconstrained would be more than NSS grants.
func caBundle() ([]byte, error) {
	var buf bytes.Buffer
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		fmt.Fprintf(&buf, "# %s\n", cert.Subject)
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA bundle: no roots")
	}
	return buf.Bytes(), nil
}

// tarLayer writes entries as an uncompressed tar, every header with the same mtime and no
// user or group names, so that the same inputs give the same bytes and the same digest.
func tarLayer(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
