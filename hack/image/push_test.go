package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPush pushes a built layout to a registry in this process and reads it back by tag.
func TestPush(t *testing.T) {
	digest, dir := built(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/sfconn/sfconn-operator:v1.2.3"

	pushed, err := Push(filepath.Join(dir, "image"), ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(ref, ":v1.2.3") + "@" + digest.String(); pushed != want {
		t.Errorf("Push() = %q, want %q", pushed, want)
	}
	tag, err := name.ParseReference(ref)
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
		t.Errorf("the registry serves %s under the tag, want %s", got, digest)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.Layers(); err != nil {
			t.Errorf("%s: %v", d.Platform, err)
		}
	}
}

func TestPushRefusesWhatBuildDidNotWrite(t *testing.T) {
	_, dir := build(t, testSpec(t))
	p, err := layout.FromPath(filepath.Join(dir, "image"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(empty.Index); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(filepath.Join(dir, "image"), "127.0.0.1:1/x:y"); err == nil || !strings.Contains(err.Error(), "2 entries") {
		t.Errorf("Push() error = %v, want it to refuse a layout of two entries", err)
	}
	if _, err := Push(filepath.Join(dir, "image"), "not a reference"); err == nil {
		t.Error("Push() accepted a malformed reference")
	}
	if _, err := Push(filepath.Join(os.TempDir(), "no-such-layout"), "127.0.0.1:1/x:y"); err == nil {
		t.Error("Push() of a missing layout succeeded")
	}
}
