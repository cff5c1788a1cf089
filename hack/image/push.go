package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads the image index that Build wrote to dir under ref, with the credentials of
// the Docker config (docker login, helm registry login, or the CI's own login), and returns
// ref's repository with the pushed digest.
func Push(dir, ref string) (string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("-ref %q: %w", ref, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w (run make image first)", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		return "", err
	}
	manifest, err := root.IndexManifest()
	if err != nil {
		return "", err
	}
	// Build writes one entry; more would mean a layout this program did not write, and
	// guessing which one to push would be wrong.
	if len(manifest.Manifests) != 1 {
		return "", fmt.Errorf("%s: index.json lists %d entries, want the one image index make image writes", dir, len(manifest.Manifests))
	}
	idx, err := root.ImageIndex(manifest.Manifests[0].Digest)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(tag, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("push %s: %w", tag, err)
	}
	return tag.Context().Digest(manifest.Manifests[0].Digest.String()).String(), nil
}
