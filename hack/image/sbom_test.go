package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestSBOM(t *testing.T) {
	digest, dir := built(t)
	raw, err := os.ReadFile(filepath.Join(dir, "sbom.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Component struct {
				Name, Version string
				BOMRef        string `json:"bom-ref"`
			}
		}
		Components []struct {
			Name, Version, Purl string
		}
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.6" {
		t.Errorf("format %s %s", bom.BOMFormat, bom.SpecVersion)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("serial number %q is not an RFC 9562 UUID", bom.SerialNumber)
	}
	if bom.Metadata.Component.Version != "v1.2.3" || !strings.HasSuffix(bom.Metadata.Component.BOMRef, digest.String()) {
		t.Errorf("metadata component %+v, want version v1.2.3 and the index digest", bom.Metadata.Component)
	}
	want := map[string]string{
		// In the test binary's module graph, as controller-runtime is in the manager's.
		"github.com/google/go-containerregistry": "pkg:golang/github.com/google/go-containerregistry@v",
		"stdlib":                                 "pkg:golang/stdlib@v" + strings.TrimPrefix(runtime.Version(), "go"),
		"/etc/ssl/certs/ca-certificates.crt":     "",
	}
	for _, c := range bom.Components {
		if prefix, ok := want[c.Name]; ok && strings.HasPrefix(c.Purl, prefix) && c.Version != "" {
			delete(want, c.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("SBOM lacks %v", want)
	}
}
