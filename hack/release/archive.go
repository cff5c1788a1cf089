package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// binaryName is the plugin's executable: kubectl finds a plugin on PATH by this name.
const binaryName = "kubectl-sfconn"

// checksumsFile is written beside the archives, in the format of sha256sum, so that a user
// can check a download with `sha256sum -c --ignore-missing checksums.txt`.
const checksumsFile = "checksums.txt"

var (
	// semver with krew's required leading v.
	versionRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	// An OS or architecture as Go names them; no '_', which separates them in archive names.
	platformWord = regexp.MustCompile(`^[a-z0-9]+$`)
)

func checkVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("version %q is not of the form vMAJOR.MINOR.PATCH[-PRERELEASE] (krew requires the v)", v)
	}
	return nil
}

type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }

// ext is the archive's extension: Windows users expect a zip, the others a tarball; krew
// reads both.
func (p platform) ext() string {
	if p.os == "windows" {
		return ".zip"
	}
	return ".tar.gz"
}

func (p platform) binary() string {
	if p.os == "windows" {
		return binaryName + ".exe"
	}
	return binaryName
}

func archiveName(version string, p platform) string {
	return fmt.Sprintf("%s_%s_%s_%s%s", binaryName, version, p.os, p.arch, p.ext())
}

// platformOf reads the platform back from an archive's name, for the krew manifest.
func platformOf(version, name string) (platform, error) {
	rest, ok := strings.CutPrefix(name, binaryName+"_"+version+"_")
	if !ok {
		return platform{}, fmt.Errorf("archive %q is not named %s_%s_OS_ARCH", name, binaryName, version)
	}
	for _, ext := range []string{".tar.gz", ".zip"} {
		if base, ok := strings.CutSuffix(rest, ext); ok {
			osName, arch, ok := strings.Cut(base, "_")
			p := platform{osName, arch}
			if !ok || !platformWord.MatchString(osName) || !platformWord.MatchString(arch) || p.ext() != ext {
				break
			}
			return p, nil
		}
	}
	return platform{}, fmt.Errorf("archive %q: want OS_ARCH.tar.gz, or .zip for windows", name)
}

type binary struct {
	platform
	path string
}

// parseBinaries reads OS/ARCH=PATH arguments.
func parseBinaries(args []string) ([]binary, error) {
	if len(args) == 0 {
		return nil, errors.New("no binaries: give OS/ARCH=PATH arguments")
	}
	var out []binary
	seen := map[platform]bool{}
	for _, a := range args {
		spec, path, ok := strings.Cut(a, "=")
		osName, arch, ok2 := strings.Cut(spec, "/")
		if !ok || !ok2 || path == "" || !platformWord.MatchString(osName) || !platformWord.MatchString(arch) {
			return nil, fmt.Errorf("argument %q: want OS/ARCH=PATH, such as linux/amd64=bin/kubectl-sfconn", a)
		}
		p := platform{osName, arch}
		if seen[p] {
			return nil, fmt.Errorf("platform %s given twice", p)
		}
		seen[p] = true
		out = append(out, binary{p, path})
	}
	return out, nil
}

// writeArchives writes one archive per binary into dir, and checksums.txt for them. It
// first removes the archives and checksums a previous run left in dir, so that the
// checksums file never names an archive of another version or build.
func writeArchives(dir, version string, binaries []binary, extra []string, mtime time.Time) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	old, err := filepath.Glob(filepath.Join(dir, binaryName+"_*"))
	if err != nil {
		return nil, err
	}
	for _, f := range append(old, filepath.Join(dir, checksumsFile)) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	var names, lines []string
	for _, b := range binaries {
		name := archiveName(version, b.platform)
		files := []archived{{name: b.binary(), path: b.path, mode: 0o755}}
		for _, e := range extra {
			files = append(files, archived{name: filepath.Base(e), path: e, mode: 0o644})
		}
		sum, err := writeArchive(filepath.Join(dir, name), b.platform, files, mtime)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		names = append(names, name)
		lines = append(lines, sum+"  "+name+"\n")
	}
	slices.Sort(lines)
	if err := os.WriteFile(filepath.Join(dir, checksumsFile), []byte(strings.Join(lines, "")), 0o644); err != nil {
		return nil, err
	}
	return append(names, checksumsFile), nil
}

type archived struct {
	name string // in the archive
	path string // on disk
	mode int64
}

// writeArchive writes the files into a new archive at path and returns its SHA-256. The
// headers carry no owner and one fixed time, so that the same inputs give the same bytes.
func writeArchive(path string, p platform, files []archived, mtime time.Time) (sum string, err error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	w := bufio.NewWriter(io.MultiWriter(f, h))
	if p.ext() == ".zip" {
		err = writeZip(w, files, mtime)
	} else {
		err = writeTarGz(w, files, mtime)
	}
	if err != nil {
		return "", err
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeTarGz(w io.Writer, files []archived, mtime time.Time) error {
	// A zero gzip header: no file name, no time, so the bytes depend on the content only.
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, a := range files {
		content, err := os.ReadFile(a.path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: a.name, Mode: a.mode, Size: int64(len(content)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(content); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, files []archived, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, a := range files {
		content, err := os.ReadFile(a.path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: a.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(a.mode))
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(content); err != nil {
			return err
		}
	}
	return zw.Close()
}

// readChecksums parses a checksums file and checks each archive beside it against its
// line, so that a manifest is never written for archives rebuilt since.
func readChecksums(path string) (map[string]string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: run make plugin-dist first", path)
		}
		return nil, err
	}
	sums := map[string]string{}
	for i, line := range strings.Split(strings.TrimRight(string(text), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != sha256.Size || name == "" || strings.ContainsAny(name, `/\`) {
			return nil, fmt.Errorf("%s:%d: want SHA256, two spaces, file name", path, i+1)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s listed twice", path, i+1, name)
		}
		got, err := fileSHA256(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			return nil, err
		}
		if got != sum {
			return nil, fmt.Errorf("%s:%d: %s has SHA-256 %s, not %s: run make plugin-dist again", path, i+1, name, got, sum)
		}
		sums[name] = sum
	}
	return sums, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read only: closing cannot lose data
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
