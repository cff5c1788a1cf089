package release

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestPluginDist runs make plugin-dist and make krew-manifest as the release workflow does,
// for this machine's platform only (the six of a release take minutes), into a directory of
// its own, and checks what a user would get: an archive whose checksum is in checksums.txt
// and in the krew manifest, under the release's download URL, holding a plugin that runs.
func TestPluginDist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin with make")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the test runs the built plugin, so it builds for linux only")
	}
	const version = "v0.0.0-test.1"
	dist := t.TempDir()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "plugin-dist", "krew-manifest",
		"RELEASE_VERSION="+version, "PLUGIN_DIST="+dist, "PLUGIN_PLATFORMS=linux/"+runtime.GOARCH)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make plugin-dist krew-manifest: %v\n%s", err, out)
	}

	name := "kubectl-sfconn_" + version + "_linux_" + runtime.GOARCH + ".tar.gz"
	archive, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	wantSum := hex.EncodeToString(sum[:])
	checksums, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(checksums), wantSum+"  "+name+"\n"; got != want {
		t.Errorf("checksums.txt = %q, want %q", got, want)
	}

	manifest, err := os.ReadFile(filepath.Join(dist, "sfconn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var plugin struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version   string `json:"version"`
			Platforms []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(manifest, &plugin); err != nil {
		t.Fatalf("sfconn.yaml: %v", err)
	}
	if plugin.Kind != "Plugin" || plugin.Metadata.Name != "sfconn" || plugin.Spec.Version != version || len(plugin.Spec.Platforms) != 1 {
		t.Fatalf("sfconn.yaml = %s", manifest)
	}
	p := plugin.Spec.Platforms[0]
	if want := "https://github.com/sfconn/sfconn-operator/releases/download/" + version + "/" + name; p.URI != want {
		t.Errorf("uri = %s, want %s", p.URI, want)
	}
	if p.SHA256 != wantSum {
		t.Errorf("sha256 = %s, want %s", p.SHA256, wantSum)
	}
	if p.Selector.MatchLabels["os"] != "linux" || p.Selector.MatchLabels["arch"] != runtime.GOARCH || p.Bin != "kubectl-sfconn" {
		t.Errorf("platform = %+v", p)
	}

	bin := filepath.Join(t.TempDir(), "kubectl-sfconn")
	extract(t, archive, "kubectl-sfconn", bin)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl-sfconn --help: %v\n%s", err, out)
	}
	for _, cmd := range []string{"status", "renew", "test"} {
		if !strings.Contains(string(out), cmd) {
			t.Errorf("kubectl-sfconn --help does not mention %s:\n%s", cmd, out)
		}
	}
}

// extract writes the file name of a tar.gz archive to path, with its mode.
func extract(t *testing.T, archive []byte, name, path string) {
	t.Helper()
	gz, err := gzip.NewReader(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("the archive has no %s", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name != name {
			continue
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, os.FileMode(hdr.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
}
