package image

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestImagePush runs make image-push IMG=... against a registry inside this test, then reads
// the tag back: the registry must serve the very index of the layout, and the target must
// print the digest a signature would name.
func TestImagePush(t *testing.T) {
	dir := layoutDir(t)
	_, digest := index(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	repo := strings.TrimPrefix(reg.URL, "http://") + "/sfconn/sfconn-operator"
	ref := repo + ":" + version(t)

	cmd := exec.Command("make", "--no-print-directory", "image-push", "IMG="+ref, "IMAGE_DIR="+dir)
	cmd.Dir = root
	// An empty Docker config: the test registry needs no login, and the user's must not leak in.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make image-push: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != repo+"@"+digest.String() {
		t.Errorf("make image-push printed %q last, want %s@%s", last, repo, digest)
	}

	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	got, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != digest {
		t.Errorf("the registry serves %s under %s, want the layout's %s", got, ref, digest)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 {
		t.Errorf("the pushed index lists %d images, want 2", len(m.Manifests))
	}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			// Reading the blob proves it was uploaded, not just named by the manifest.
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("%s: %v", d.Platform, err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("%s: %v", d.Platform, err)
			}
			_ = rc.Close()
		}
	}
}
