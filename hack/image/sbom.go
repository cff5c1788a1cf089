package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SBOM is the CycloneDX bill of materials of the image: the Go modules and the Go standard
// library linked into its binaries, as the Go linker recorded them (what go version -m
// prints), so it lists what runs rather than what go.mod allows. The base layer adds no
// package: it is files written by this program and the CA bundle, which is listed.
func SBOM(spec Spec, index v1.Hash) ([]byte, error) {
	var infos []*debug.BuildInfo
	for _, b := range spec.Binaries {
		bi, err := buildinfo.ReadFile(b.Path)
		if err != nil {
			return nil, fmt.Errorf("build info of %s: %w", b.Path, err)
		}
		infos = append(infos, bi)
	}
	return sbomOf(spec, index, infos)
}

func sbomOf(spec Spec, index v1.Hash, infos []*debug.BuildInfo) ([]byte, error) {
	if len(infos) == 0 {
		return nil, fmt.Errorf("no binaries")
	}
	main := infos[0].Main
	// The module graph is the same for every platform in practice; a union still lists
	// everything should a platform-specific import ever pull in a module of its own.
	byRef := map[string]cdx.Component{}
	add := func(c cdx.Component) { byRef[c.BOMRef] = c }
	for _, bi := range infos {
		add(goComponent("stdlib", "v"+strings.TrimPrefix(bi.GoVersion, "go")))
		for _, dep := range bi.Deps {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			add(goComponent(dep.Path, dep.Version))
		}
	}
	refs := slices.Sorted(func(yield func(string) bool) {
		for ref := range byRef {
			if !yield(ref) {
				return
			}
		}
	})
	components := make([]cdx.Component, 0, len(refs)+1)
	for _, ref := range refs {
		components = append(components, byRef[ref])
	}
	components = append(components, cdx.Component{
		BOMRef:  "file:" + CABundlePath,
		Type:    cdx.ComponentTypeData,
		Name:    CABundlePath,
		Version: fallbackVersion(),
		Description: "Mozilla's root certificates from golang.org/x/crypto/x509roots/fallback, " +
			"without the roots NSS distrusts after a date",
	})

	platforms := make([]string, 0, len(spec.Binaries))
	for _, b := range spec.Binaries {
		platforms = append(platforms, b.OS+"/"+b.Arch)
	}
	image := cdx.Component{
		BOMRef:  "pkg:oci/sfconn-operator@" + index.String(),
		Type:    cdx.ComponentTypeContainer,
		Name:    "sfconn-operator",
		Version: spec.Version,
		PackageURL: "pkg:oci/sfconn-operator@" + strings.ReplaceAll(index.String(), ":", "%3A") +
			"?repository_url=ghcr.io/sfconn/sfconn-operator",
		Licenses: &cdx.Licenses{{License: &cdx.License{ID: "Apache-2.0"}}},
		Properties: &[]cdx.Property{
			{Name: "sfconn:platforms", Value: strings.Join(platforms, ",")},
			{Name: "sfconn:revision", Value: spec.Revision},
			{Name: "sfconn:main-module", Value: main.Path},
		},
		ExternalReferences: &[]cdx.ExternalReference{{Type: cdx.ERTypeVCS, URL: spec.Source}},
	}
	deps := make([]string, 0, len(components))
	for _, c := range components {
		deps = append(deps, c.BOMRef)
	}

	bom := cdx.NewBOM()
	// A serial number from the index digest, not a random one: the same image, the same SBOM.
	bom.SerialNumber = "urn:uuid:" + uuidOf(index.Hex)
	bom.Metadata = &cdx.Metadata{
		Timestamp: spec.Created.UTC().Format(time.RFC3339),
		Component: &image,
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "sfconn-image",
			Description: "hack/image in " + spec.Source + ", with github.com/CycloneDX/cyclonedx-go",
		}}},
	}
	bom.Components = &components
	bom.Dependencies = &[]cdx.Dependency{{Ref: image.BOMRef, Dependencies: &deps}}

	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// goComponent is a Go module with the package URL scanners (govulncheck's, Grype, Trivy)
// look vulnerabilities up by.
func goComponent(path, version string) cdx.Component {
	purl := "pkg:golang/" + path + "@" + version
	return cdx.Component{BOMRef: purl, Type: cdx.ComponentTypeLibrary, Name: path, Version: version, PackageURL: purl}
}

// fallbackVersion is the version of the CA bundle's module, as this program was built with
// it: the bundle comes from here, not from the manager.
func fallbackVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "golang.org/x/crypto/x509roots/fallback" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// uuidOf formats the first 128 bits of a hex digest as a version 8 (custom) UUID.
func uuidOf(hex string) string {
	b := []byte(hex[:32])
	b[12] = '8'
	// The variant: the two high bits of the 17th digit are 10.
	b[16] = "89ab"[strings.IndexByte("0123456789abcdef", b[16])%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}
