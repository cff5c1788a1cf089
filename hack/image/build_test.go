package main

import (
	"archive/tar"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// testSpec builds from the test binary itself: a real Go binary with build info, for both
// platforms (the program does not look inside beyond the build info).
func testSpec(t *testing.T) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{
		Binaries: []Binary{{OS: "linux", Arch: "amd64", Path: exe}, {OS: "linux", Arch: "arm64", Path: exe}},
		Version:  "v1.2.3",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Source:   "https://github.com/sfconn/sfconn-operator",
		Created:  time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
	}
}

func build(t *testing.T, spec Spec) (v1.Hash, string) {
	t.Helper()
	dir := t.TempDir()
	digest, err := Build(spec, filepath.Join(dir, "image"), filepath.Join(dir, "sbom.json"))
	if err != nil {
		t.Fatal(err)
	}
	return digest, dir
}

var shared struct {
	sync.Once
	digest v1.Hash
	dir    string
	err    error
}

// built is one build of testSpec shared by the tests that only read it: a build compresses
// the whole test binary, and the machine may be busy.
func built(t *testing.T) (v1.Hash, string) {
	t.Helper()
	shared.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "sfconn-image-test")
		if shared.err == nil {
			shared.digest, shared.err = Build(testSpec(t), filepath.Join(shared.dir, "image"), filepath.Join(shared.dir, "sbom.json"))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.digest, shared.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// TestBuildIsReproducible: the same inputs give the same index digest, and the digest does
// follow the inputs (a different commit time is a different image).
func TestBuildIsReproducible(t *testing.T) {
	spec := testSpec(t)
	first, dir1 := built(t)
	second, dir2 := build(t, spec)
	if first != second {
		t.Errorf("two builds of the same inputs: %s and %s", first, second)
	}
	sbom1, _ := os.ReadFile(filepath.Join(dir1, "sbom.json"))
	sbom2, _ := os.ReadFile(filepath.Join(dir2, "sbom.json"))
	if string(sbom1) != string(sbom2) {
		t.Error("two builds of the same inputs wrote different SBOMs")
	}
	spec.Created = spec.Created.Add(time.Second)
	if third, _ := build(t, spec); third == first {
		t.Error("a different creation time gave the same digest")
	}
}

func TestLayout(t *testing.T) {
	spec := testSpec(t)
	digest, dir := built(t)
	p, err := layout.FromPath(filepath.Join(dir, "image"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	rootManifest, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rootManifest.Manifests) != 1 || rootManifest.Manifests[0].Digest != digest ||
		rootManifest.Manifests[0].Annotations[RefNameAnnotation] != "v1.2.3" {
		t.Fatalf("index.json = %+v, want the image index %s named v1.2.3", rootManifest.Manifests, digest)
	}
	idx, err := root.ImageIndex(digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations["org.opencontainers.image.revision"] != spec.Revision {
		t.Errorf("index annotations = %v", im.Annotations)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/manager" {
			t.Errorf("%s: user %q, entrypoint %q", d.Platform, cfg.Config.User, cfg.Config.Entrypoint)
		}
		if cfg.Architecture != d.Platform.Architecture || cfg.OS != "linux" {
			t.Errorf("%s: config says %s/%s", d.Platform, cfg.OS, cfg.Architecture)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.version":  "v1.2.3",
			"org.opencontainers.image.revision": spec.Revision,
			"org.opencontainers.image.created":  "2026-11-30T12:00:00Z",
			"org.opencontainers.image.source":   spec.Source,
		} {
			if got := cfg.Config.Labels[k]; got != want {
				t.Errorf("%s: label %s = %q, want %q", d.Platform, k, got, want)
			}
		}
		if !cfg.Created.Equal(spec.Created) {
			t.Errorf("%s: created %s, want the commit time", d.Platform, cfg.Created)
		}
	}
	if strings.Join(platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v", platforms)
	}
}

// TestBaseFiles reads the base layer as a container runtime would.
func TestBaseFiles(t *testing.T) {
	entries, err := baseEntries()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tarLayer(append(entries, entry{name: "manager", mode: 0o755, data: []byte("x")}), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*tar.Header{}
	data := map[string]string{}
	tr := tar.NewReader(strings.NewReader(string(raw)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = h
		data[h.Name] = string(b)
	}
	for _, shell := range []string{"bin/sh", "bin/", "usr/bin/", "sbin/"} {
		if _, ok := files[shell]; ok {
			t.Errorf("%s in the image", shell)
		}
	}
	if !strings.Contains(data["etc/passwd"], "nonroot:x:65532:65532:") || !strings.Contains(data["etc/group"], "nonroot:x:65532:") {
		t.Errorf("passwd %q, group %q: want nonroot 65532", data["etc/passwd"], data["etc/group"])
	}
	if h := files["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp: %+v, want mode 1777", h)
	}
	if h := files["manager"]; h.Uid != 0 || h.Mode != 0o755 {
		t.Errorf("manager: uid %d mode %o, want root-owned 755", h.Uid, h.Mode)
	}
	if h := files["home/nonroot/"]; h == nil || h.Uid != NonRoot {
		t.Errorf("home/nonroot: %+v, want owned by %d", h, NonRoot)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(data["etc/ssl/certs/ca-certificates.crt"])) {
		t.Fatal("CA bundle does not parse")
	}
	n := strings.Count(data["etc/ssl/certs/ca-certificates.crt"], "BEGIN CERTIFICATE")
	if n < 100 {
		t.Errorf("CA bundle holds %d certificates, want Mozilla's roots", n)
	}
	// Salesforce's login endpoints chain to DigiCert.
	if !strings.Contains(data["etc/ssl/certs/ca-certificates.crt"], "DigiCert Global Root G2") {
		t.Error("CA bundle lacks DigiCert Global Root G2")
	}
	rest := []byte(data["etc/ssl/certs/ca-certificates.crt"])
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("CA bundle: %v", err)
		}
	}
}

func TestTarIsDeterministic(t *testing.T) {
	entries, err := baseEntries()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tarLayer(entries, time.Unix(1, 0))
	b, _ := tarLayer(entries, time.Unix(1, 0))
	c, _ := tarLayer(entries, time.Unix(2, 0))
	if string(a) != string(b) {
		t.Error("the same entries gave different tars")
	}
	if string(a) == string(c) {
		t.Error("the mtime is not in the tar")
	}
}
