// Package image tests what make image wrote to bin/image/: the OCI index, each image's
// config, the files of the amd64 (or this machine's) image, the manager run from those
// files, the SBOM beside it, and make image-push to a registry inside the test.
package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// root is the repository root: this package runs in test/image.
var root = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

// layoutDir is the layout under test, named by SFCONN_IMAGE_DIR: make test-image builds it
// and sets it. Without it the tests skip, so that make test does not test a bin/image/ left
// from an older commit.
func layoutDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SFCONN_IMAGE_DIR")
	if dir == "" {
		t.Skip("SFCONN_IMAGE_DIR is not set: run make test-image")
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		t.Fatalf("no OCI layout at %s: %v", dir, err)
	}
	return dir
}

func version(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return "v" + strings.TrimSpace(string(b))
}

func git(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// index returns the image index make image wrote and its digest.
func index(t *testing.T) (v1.ImageIndex, v1.Hash) {
	t.Helper()
	p, err := layout.FromPath(layoutDir(t))
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("index.json lists %d entries, want 1", len(m.Manifests))
	}
	d := m.Manifests[0]
	if d.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json names a %s, want an image index", d.MediaType)
	}
	if got := d.Annotations["org.opencontainers.image.ref.name"]; got != version(t) {
		t.Errorf("index.json names the image %q, want VERSION's %q", got, version(t))
	}
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx, d.Digest
}

// images returns the index's images by platform, os/arch.
func images(t *testing.T) map[string]v1.Image {
	t.Helper()
	idx, _ := index(t)
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Image{}
	for _, d := range m.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		out[d.Platform.String()] = img
	}
	return out
}

func TestIndexHasBothPlatforms(t *testing.T) {
	imgs := images(t)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if _, ok := imgs[p]; !ok {
			t.Errorf("no %s image in the index (has %v)", p, keys(imgs))
		}
	}
	if len(imgs) != 2 {
		t.Errorf("the index has %v, want linux/amd64 and linux/arm64", keys(imgs))
	}
}

// TestConfig checks what a runtime reads from each image: the user, the entrypoint, the
// labels, and a creation time that is the commit's (so that one commit is one digest).
func TestConfig(t *testing.T) {
	head := git(t, "rev-parse", "HEAD")
	epoch, err := strconv.ParseInt(git(t, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	commitTime := time.Unix(epoch, 0).UTC()
	for platform, img := range images(t) {
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if platform != cfg.OS+"/"+cfg.Architecture {
			t.Errorf("%s: the config says %s/%s", platform, cfg.OS, cfg.Architecture)
		}
		if cfg.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", platform, cfg.Config.User)
		}
		if fmt.Sprint(cfg.Config.Entrypoint) != "[/manager]" || len(cfg.Config.Cmd) != 0 {
			t.Errorf("%s: entrypoint %q cmd %q, want [/manager] alone", platform, cfg.Config.Entrypoint, cfg.Config.Cmd)
		}
		labels := cfg.Config.Labels
		for k, want := range map[string]string{
			"org.opencontainers.image.source":   "https://github.com/sfconn/sfconn-operator",
			"org.opencontainers.image.version":  version(t),
			"org.opencontainers.image.title":    "sfconn-operator",
			"org.opencontainers.image.licenses": "Apache-2.0",
			"org.opencontainers.image.created":  commitTime.Format(time.RFC3339),
		} {
			if labels[k] != want {
				t.Errorf("%s: label %s = %q, want %q", platform, k, labels[k], want)
			}
		}
		// -dirty when the image was built from a tree with changes; the commit either way.
		if rev := labels["org.opencontainers.image.revision"]; strings.TrimSuffix(rev, "-dirty") != head {
			t.Errorf("%s: revision label %q, want HEAD %s", platform, rev, head)
		}
		if !cfg.Created.Equal(commitTime) {
			t.Errorf("%s: created %s, want the commit time %s", platform, cfg.Created.Time, commitTime)
		}
	}
}

func keys(m map[string]v1.Image) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// unpack applies img's layers to a new directory in order, as a container runtime would,
// and returns it with the tar headers by path.
func unpack(t *testing.T, img v1.Image) (string, map[string]*tar.Header) {
	t.Helper()
	dir := t.TempDir()
	// The image's / as a runtime makes it: the non-root user must be able to walk it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	headers := map[string]*tar.Header{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Clean(strings.TrimPrefix(h.Name, "/"))
			if !filepath.IsLocal(name) || strings.Contains(filepath.Base(name), ".wh.") {
				t.Fatalf("layer entry %q leaves the root or is a whiteout", h.Name)
			}
			headers[name] = h
			target := filepath.Join(dir, name)
			switch h.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(target, 0o755); err != nil {
					t.Fatal(err)
				}
				// Chmod after: MkdirAll's mode goes through the umask, and sticky /tmp must stay.
				if err := os.Chmod(target, os.FileMode(h.Mode).Perm()|sticky(h.Mode)); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(f, tr); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			default:
				// No links, devices or symlinks: nothing in a static image needs them.
				t.Errorf("layer entry %q has type %c", h.Name, h.Typeflag)
			}
			if os.Geteuid() == 0 {
				if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir, headers
}

func sticky(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// TestFiles checks the unpacked image: the manager, root's and nonroot's users, the CA
// bundle, and nothing to run a shell with.
func TestFiles(t *testing.T) {
	for platform, img := range images(t) {
		dir, headers := unpack(t, img)
		for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh", "bin"} {
			if _, err := os.Lstat(filepath.Join(dir, shell)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: /%s exists", platform, shell)
			}
		}
		m := headers["manager"]
		if m == nil || m.Uid != 0 || m.Mode&0o022 != 0 || m.Mode&0o001 == 0 {
			t.Errorf("%s: /manager %+v, want owned by root, executable by all, writable by root alone", platform, m)
		}
		passwd, _ := os.ReadFile(filepath.Join(dir, "etc", "passwd"))
		group, _ := os.ReadFile(filepath.Join(dir, "etc", "group"))
		if !strings.Contains(string(passwd), "\nnonroot:x:65532:65532:") || !strings.Contains(string(group), "\nnonroot:x:65532:\n") {
			t.Errorf("%s: /etc/passwd %q, /etc/group %q: want nonroot 65532", platform, passwd, group)
		}
		certs, _ := os.ReadFile(filepath.Join(dir, "etc", "ssl", "certs", "ca-certificates.crt"))
		if n := strings.Count(string(certs), "-----BEGIN CERTIFICATE-----"); n < 100 {
			t.Errorf("%s: the CA bundle holds %d certificates", platform, n)
		}
	}
}

// TestRunFromLayers runs the manager of this machine's platform from the unpacked image.
// As root (CI containers), it runs chrooted into the image's files as the image's user, as
// a pod would; otherwise as the current user, which is not root either.
func TestRunFromLayers(t *testing.T) {
	platform := "linux/" + runtime.GOARCH
	img, ok := images(t)[platform]
	if !ok {
		t.Fatalf("no %s image to run on this machine", platform)
	}
	dir, _ := unpack(t, img)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "manager"), args...)
		if os.Geteuid() == 0 {
			cmd = chrootAs(dir, cfg.Config.User, cfg.Config.Entrypoint[0], args...)
		}
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("manager %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	if os.Geteuid() == 0 {
		t.Logf("running /manager chrooted into the unpacked image as %s", cfg.Config.User)
	} else {
		t.Logf("running the unpacked manager as uid %d (not root: no chroot)", os.Geteuid())
	}
	out := run("--version")
	t.Log(strings.TrimSpace(out))
	rev := cfg.Config.Labels["org.opencontainers.image.revision"]
	for _, want := range []string{"sfconn manager " + version(t), "commit " + rev, "go1.", platform} {
		if !strings.Contains(out, want) {
			t.Errorf("manager --version printed %q, want %q in it", out, want)
		}
	}
	help := run("--help")
	for _, want := range []string{"-allowed-login-hosts", "-version", "-leader-elect"} {
		if !strings.Contains(help, want) {
			t.Errorf("manager --help lacks %s:\n%s", want, help)
		}
	}
}

// sbom is the part of the CycloneDX document the tests read.
type sbom struct {
	BOMFormat string `json:"bomFormat"`
	Metadata  struct {
		Component struct {
			BOMRef  string `json:"bom-ref"`
			Version string `json:"version"`
		} `json:"component"`
	} `json:"metadata"`
	Components []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Purl    string `json:"purl"`
	} `json:"components"`
}

// TestSBOM checks the SBOM beside the layout against the operator's go.mod: what the
// binary links is what go.mod requires, for the modules it imports.
func TestSBOM(t *testing.T) {
	_, digest := index(t)
	raw, err := os.ReadFile(filepath.Join(layoutDir(t), "sbom.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc sbom
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.BOMFormat != "CycloneDX" {
		t.Errorf("bomFormat %q", doc.BOMFormat)
	}
	if doc.Metadata.Component.Version != version(t) || !strings.HasSuffix(doc.Metadata.Component.BOMRef, digest.String()) {
		t.Errorf("the SBOM describes %+v, want %s at %s", doc.Metadata.Component, version(t), digest)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, c := range doc.Components {
		found[c.Name] = c.Version
		if c.Purl != "" && !strings.HasPrefix(c.Purl, "pkg:golang/"+c.Name+"@") {
			t.Errorf("component %s has purl %q", c.Name, c.Purl)
		}
	}
	for _, mod := range []string{"sigs.k8s.io/controller-runtime", "k8s.io/client-go", "github.com/golang-jwt/jwt/v5"} {
		want := requiredVersion(string(gomod), mod)
		if want == "" {
			t.Fatalf("go.mod does not require %s", mod)
		}
		if found[mod] != want {
			t.Errorf("SBOM lists %s at %q, go.mod requires %s", mod, found[mod], want)
		}
	}
	if v := found["stdlib"]; !strings.HasPrefix(v, "v1.") {
		t.Errorf("SBOM lists the Go standard library at %q", v)
	}
}

// requiredVersion is the version go.mod requires mod at, from its require lines.
func requiredVersion(gomod, mod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == mod {
			return fields[1]
		}
	}
	return ""
}
