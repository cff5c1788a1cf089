package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec is one image build: the same manager built for each platform, and what the labels say.
type Spec struct {
	Binaries []Binary
	Version  string
	Revision string
	Source   string
	// Created is the commit time, not the time of the build, so that two builds of one
	// commit are the same image.
	Created time.Time
}

// Binary is a static manager binary for one platform.
type Binary struct {
	OS, Arch, Path string
}

// RefNameAnnotation names the image index in the layout's index.json, as tools that read an
// OCI layout (crane, skopeo, oras) expect.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Labels are the OCI annotations every image and the index carry.
func (s Spec) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "sfconn-operator",
		"org.opencontainers.image.description": "Kubernetes operator that keeps Salesforce access tokens in Secrets, renewed",
		"org.opencontainers.image.source":      s.Source,
		"org.opencontainers.image.url":         s.Source,
		"org.opencontainers.image.revision":    s.Revision,
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.created":     s.Created.Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// Build writes the image index of spec to an OCI image layout at dir (replacing it) and the
// SBOM of the binaries to sbomPath. It returns the index digest.
func Build(spec Spec, dir, sbomPath string) (v1.Hash, error) {
	idx, err := Index(spec)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	// A layout holds every blob ever appended to it: start afresh so that old builds do not
	// pile up under blobs/ and index.json names this build alone.
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefNameAnnotation: spec.Version})); err != nil {
		return v1.Hash{}, err
	}
	sbom, err := SBOM(spec, digest)
	if err != nil {
		return v1.Hash{}, err
	}
	return digest, os.WriteFile(sbomPath, sbom, 0o644)
}

// Index is the multi-platform image: one image per binary, sharing the base layer.
func Index(spec Spec) (v1.ImageIndex, error) {
	entries, err := baseEntries()
	if err != nil {
		return nil, err
	}
	base, err := layerOf(entries, spec.Created)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, b := range spec.Binaries {
		img, err := platformImage(spec, b, base)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", b.OS, b.Arch, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: b.OS, Architecture: b.Arch}},
		})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, spec.Labels()).(v1.ImageIndex), nil
}

func platformImage(spec Spec, b Binary, base v1.Layer) (v1.Image, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, err
	}
	// Root owns the binary and nobody may write it: the non-root user cannot replace what
	// it runs.
	manager, err := layerOf([]entry{{name: ManagerPath[1:], mode: 0o755, data: bin}}, spec.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: b.Arch,
		OS:           b.OS,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
			Entrypoint: []string{ManagerPath},
			WorkingDir: "/",
			Labels:     spec.Labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: spec.Created}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "sfconn-image: users, CA bundle, /tmp", Comment: "base"}},
		mutate.Addendum{Layer: manager, History: v1.History{Created: created, CreatedBy: "sfconn-image: " + ManagerPath, Comment: "manager " + spec.Version}},
	)
	if err != nil {
		return nil, err
	}
	img, err = mutate.CreatedAt(img, created)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, spec.Labels()).(v1.Image), nil
}

// layerOf is a gzip-compressed OCI layer of entries. The compressed bytes are kept: the
// layout writes them and the digests are read from them, and compressing a 70 MB binary
// once is enough.
func layerOf(entries []entry, mtime time.Time) (v1.Layer, error) {
	raw, err := tarLayer(entries, mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}
