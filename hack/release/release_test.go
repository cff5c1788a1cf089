package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"v0.1.0":          true,
		"v1.2.3-rc.1":     true,
		"v10.20.30+build": true,
		"0.1.0":           false, // krew requires the v
		"v1.2":            false,
		"v01.2.3":         false,
		"":                false,
		"v1.2.3\n":        false,
		"8a3ccde":         false,
	} {
		if err := checkVersion(v); (err == nil) != ok {
			t.Errorf("checkVersion(%q) = %v, want ok=%v", v, err, ok)
		}
	}
}

func TestPlatformOf(t *testing.T) {
	for name, want := range map[string]string{
		"kubectl-sfconn_v0.1.0_linux_amd64.tar.gz":   "linux/amd64",
		"kubectl-sfconn_v0.1.0_darwin_arm64.tar.gz":  "darwin/arm64",
		"kubectl-sfconn_v0.1.0_windows_arm64.zip":    "windows/arm64",
		"kubectl-sfconn_v0.1.0_windows_amd64.tar.gz": "", // windows archives are zips
		"kubectl-sfconn_v0.1.0_linux_amd64.zip":      "",
		"kubectl-sfconn_v0.2.0_linux_amd64.tar.gz":   "", // another version
		"kubectl-sfconn_v0.1.0_linux.tar.gz":         "",
		"kubectl-sfconn_v0.1.0_linux_amd_64.tar.gz":  "",
		"checksums.txt": "",
	} {
		p, err := platformOf("v0.1.0", name)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != want {
			t.Errorf("platformOf(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestParseBinaries(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"linux/amd64=a", "windows/arm64=b"}, true},
		{nil, false},
		{[]string{"linux/amd64"}, false},
		{[]string{"linux/amd64="}, false},
		{[]string{"linux=a"}, false},
		{[]string{"linux_x/amd64=a"}, false},
		{[]string{"linux/amd64=a", "linux/amd64=b"}, false},
	} {
		if _, err := parseBinaries(tc.args); (err == nil) != tc.ok {
			t.Errorf("parseBinaries(%q) = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}

const changelog = `# Changelog

## [Unreleased]

### Added
- Something new.

## [0.2.0] - 2027-01-15

### Fixed
- A fix.

## [0.1.0] - 2026-12-02

### Added
- The first release.

## [0.0.9]

- Undated.

## [0.0.8] - 2026-01-01

[Unreleased]: https://github.com/sfconn/sfconn-operator/compare/v0.2.0...HEAD
[0.2.0]: https://github.com/sfconn/sfconn-operator/compare/v0.1.0...v0.2.0
`

func TestReleaseNotes(t *testing.T) {
	for _, tc := range []struct {
		version, want, err string
	}{
		{version: "v0.2.0", want: "### Fixed\n- A fix.\n"},
		{version: "v0.1.0", want: "### Added\n- The first release.\n"},
		{version: "v0.3.0", err: "no section ## [0.3.0]"},
		{version: "v0.0.9", err: "has no date"},
		{version: "v0.0.8", err: "is empty"},
	} {
		got, err := releaseNotes(changelog, tc.version)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("releaseNotes(%s) = %q, %v; want an error with %q", tc.version, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("releaseNotes(%s) = %q, %v; want %q", tc.version, got, err, tc.want)
		}
	}
}

// fakeBinaries writes a distinct small file per platform, standing in for the plugin.
func fakeBinaries(t *testing.T, platforms ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var args []string
	for _, p := range platforms {
		path := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		if err := os.WriteFile(path, []byte("binary for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
		args = append(args, p+"="+path)
	}
	return args
}

var allPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

func TestArchivesAndKrewManifest(t *testing.T) {
	out := t.TempDir()
	// A leftover of an older build must not reach the checksums.
	if err := os.WriteFile(filepath.Join(out, "kubectl-sfconn_v0.0.1_linux_amd64.tar.gz"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	license := filepath.Join(t.TempDir(), "LICENSE")
	if err := os.WriteFile(license, []byte("license text"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"archive", "-version", "v0.1.0", "-out", out, "-mtime", "1764633600", "-file", license}, fakeBinaries(t, allPlatforms...)...)
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(allPlatforms)+1 {
		t.Errorf("%s holds %d files, want %d archives and checksums.txt", out, len(entries), len(allPlatforms))
	}

	sums := map[string]string{}
	checksums, err := os.ReadFile(filepath.Join(out, checksumsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(checksums)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		sums[name] = sum
	}
	for _, p := range allPlatforms {
		osName, arch, _ := strings.Cut(p, "/")
		pl := platform{osName, arch}
		name := archiveName("v0.1.0", pl)
		content, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(content); hex.EncodeToString(got[:]) != sums[name] {
			t.Errorf("checksums.txt gives %s for %s, its SHA-256 is %x", sums[name], name, got)
		}
		files := readArchive(t, name, content)
		if got := files[pl.binary()]; got.content != "binary for "+p || got.mode&0o111 == 0 {
			t.Errorf("%s: %s is %+v, want the %s binary, executable", name, pl.binary(), got, p)
		}
		if got := files["LICENSE"]; got.content != "license text" || got.mode&0o111 != 0 {
			t.Errorf("%s: LICENSE is %+v, want the license, not executable", name, got)
		}
		for n, f := range files {
			if !f.mtime.Equal(time.Unix(1764633600, 0)) {
				t.Errorf("%s: %s has time %s, want the -mtime given", name, n, f.mtime)
			}
		}
		if len(files) != 2 {
			t.Errorf("%s holds %d files, want the binary and LICENSE", name, len(files))
		}
	}

	manifestPath := filepath.Join(out, "sfconn.yaml")
	urlBase := "https://github.com/sfconn/sfconn-operator/releases/download/v0.1.0"
	if err := run([]string{"krew", "-version", "v0.1.0", "-url-base", urlBase + "/", "-checksums", filepath.Join(out, checksumsFile), "-out", manifestPath}, io.Discard); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var m krewPlugin
	if err := yaml.UnmarshalStrict(text, &m); err != nil {
		t.Fatalf("the krew manifest is not valid YAML of a krew Plugin: %v\n%s", err, text)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "sfconn" || m.Spec.Version != "v0.1.0" {
		t.Errorf("manifest head = %s %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name, m.Spec.Version)
	}
	if m.Spec.ShortDescription == "" || m.Spec.Description == "" || m.Spec.Homepage == "" {
		t.Errorf("manifest lacks a description or homepage: %+v", m.Spec)
	}
	seen := map[string]bool{}
	for _, p := range m.Spec.Platforms {
		osName, arch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		pl := platform{osName, arch}
		name := archiveName("v0.1.0", pl)
		if p.URI != urlBase+"/"+name {
			t.Errorf("%s: uri %s, want %s/%s", pl, p.URI, urlBase, name)
		}
		if p.SHA256 != sums[name] || p.SHA256 == "" {
			t.Errorf("%s: sha256 %s, want %s", pl, p.SHA256, sums[name])
		}
		if p.Bin != pl.binary() {
			t.Errorf("%s: bin %s, want %s", pl, p.Bin, pl.binary())
		}
		seen[pl.String()] = true
	}
	for _, p := range allPlatforms {
		if !seen[p] {
			t.Errorf("the manifest has no platform %s", p)
		}
	}
	if len(m.Spec.Platforms) != len(allPlatforms) {
		t.Errorf("the manifest has %d platforms, want %d", len(m.Spec.Platforms), len(allPlatforms))
	}
}

// TestArchivesAreReproducible: the same binaries and time give the same bytes, so a
// rebuild of a release can be checked against its checksums.
func TestArchivesAreReproducible(t *testing.T) {
	bins := fakeBinaries(t, "linux/amd64", "windows/amd64")
	var got []string
	for range 2 {
		out := t.TempDir()
		if err := run(append([]string{"archive", "-version", "v0.1.0", "-out", out, "-mtime", "1764633600"}, bins...), io.Discard); err != nil {
			t.Fatal(err)
		}
		sums, err := os.ReadFile(filepath.Join(out, checksumsFile))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(sums))
	}
	if got[0] != got[1] {
		t.Errorf("two builds differ:\n%s\n%s", got[0], got[1])
	}
}

func TestKrewRefusesStaleOrForeignArchives(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, out string){
		"an archive rebuilt since": func(t *testing.T, out string) {
			write(t, filepath.Join(out, archiveName("v0.1.0", platform{"linux", "amd64"})), "other bytes")
		},
		"an archive missing": func(t *testing.T, out string) {
			if err := os.Remove(filepath.Join(out, archiveName("v0.1.0", platform{"linux", "amd64"}))); err != nil {
				t.Fatal(err)
			}
		},
		"a file of another name": func(t *testing.T, out string) {
			write(t, filepath.Join(out, "notes.txt"), "x")
			f, err := os.OpenFile(filepath.Join(out, checksumsFile), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte("x"))
			_, err = f.WriteString(hex.EncodeToString(sum[:]) + "  notes.txt\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		"a malformed line": func(t *testing.T, out string) {
			write(t, filepath.Join(out, checksumsFile), "abc kubectl-sfconn_v0.1.0_linux_amd64.tar.gz\n")
		},
		"no checksums": func(t *testing.T, out string) {
			if err := os.Remove(filepath.Join(out, checksumsFile)); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			if err := run(append([]string{"archive", "-version", "v0.1.0", "-out", out}, fakeBinaries(t, "linux/amd64")...), io.Discard); err != nil {
				t.Fatal(err)
			}
			change(t, out)
			err := run([]string{"krew", "-version", "v0.1.0", "-url-base", "https://example.com/d", "-checksums", filepath.Join(out, checksumsFile), "-out", filepath.Join(out, "sfconn.yaml")}, io.Discard)
			if err == nil {
				t.Error("krew wrote a manifest")
			}
			if _, statErr := os.Stat(filepath.Join(out, "sfconn.yaml")); statErr == nil {
				t.Error("sfconn.yaml exists")
			}
		})
	}
}

func TestKrewRefusesPlainHTTP(t *testing.T) {
	out := t.TempDir()
	if err := run(append([]string{"archive", "-version", "v0.1.0", "-out", out}, fakeBinaries(t, "linux/amd64")...), io.Discard); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"krew", "-version", "v0.1.0", "-url-base", "http://example.com/d", "-checksums", filepath.Join(out, checksumsFile), "-out", filepath.Join(out, "sfconn.yaml")}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("krew with an http:// base = %v, want an error", err)
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"publish"},
		{"archive", "-version", "0.1.0", "linux/amd64=x"},
		{"krew", "-version", "latest"},
		{"notes", "-version", "v0.1.0", "-changelog", filepath.Join(t.TempDir(), "none.md")},
	} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestNotesCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "CHANGELOG.md")
	write(t, path, changelog)
	var out bytes.Buffer
	if err := run([]string{"notes", "-version", "v0.2.0", "-changelog", path}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "### Fixed\n- A fix.\n" {
		t.Errorf("notes = %q", out.String())
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type fileInArchive struct {
	content string
	mode    os.FileMode
	mtime   time.Time
}

func readArchive(t *testing.T, name string, content []byte) map[string]fileInArchive {
	t.Helper()
	files := map[string]fileInArchive{}
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name] = fileInArchive{string(b), f.Mode(), f.Modified}
		}
		return files
	}
	gz, err := gzip.NewReader(bytes.NewReader(content))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" {
			t.Errorf("%s: %s has an owner: %d/%d %q", name, hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname)
		}
		files[hdr.Name] = fileInArchive{string(b), hdr.FileInfo().Mode(), hdr.ModTime}
	}
	return files
}
