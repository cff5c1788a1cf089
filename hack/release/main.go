// Command release makes the files of a release that no other tool makes for us: the
// kubectl plugin's archives and their checksums, the krew manifest that installs them, and
// the release notes taken from CHANGELOG.md. The Makefile (plugin-dist, krew-manifest) and
// .github/workflows/release.yaml call it; docs/releasing.md describes the release.
//
//	release archive -version v0.1.0 -out dist/plugin linux/amd64=/tmp/linux_amd64/kubectl-sfconn ...
//	release krew -version v0.1.0 -url-base https://.../download/v0.1.0 -checksums dist/plugin/checksums.txt -out dist/plugin/sfconn.yaml
//	release notes -version v0.1.0 -changelog CHANGELOG.md
//
// It uses the standard library and sigs.k8s.io/yaml only, which the operator's module
// already requires, so that releasing adds no dependency.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: release archive|krew|notes [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	version := fs.String("version", "", "The release version, vMAJOR.MINOR.PATCH[-PRERELEASE].")
	switch args[0] {
	case "archive":
		out := fs.String("out", "dist/plugin", "Directory to write the archives and checksums.txt to; it is emptied of older archives first.")
		mtime := fs.Int64("mtime", 0, "Modification time of every archived file, in Unix seconds (the commit time), so that a rebuild gives the same bytes.")
		var extra stringList
		fs.Var(&extra, "file", "A file to add to every archive beside the binary, such as LICENSE (repeatable).")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := checkVersion(*version); err != nil {
			return err
		}
		binaries, err := parseBinaries(fs.Args())
		if err != nil {
			return err
		}
		names, err := writeArchives(*out, *version, binaries, extra, time.Unix(*mtime, 0).UTC())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "wrote %s\n", strings.Join(names, ", "))
		return err
	case "krew":
		urlBase := fs.String("url-base", "", "Where the archives are downloaded from: the release's download URL.")
		checksums := fs.String("checksums", "dist/plugin/checksums.txt", "The checksums file that release archive wrote; the archives must be beside it.")
		out := fs.String("out", "dist/plugin/"+pluginName+".yaml", "The krew manifest to write.")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := checkVersion(*version); err != nil {
			return err
		}
		manifest, err := krewManifest(*version, *urlBase, *checksums)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, manifest, 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "wrote %s\n", *out)
		return err
	case "notes":
		changelog := fs.String("changelog", "CHANGELOG.md", "The changelog, in Keep a Changelog's format.")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := checkVersion(*version); err != nil {
			return err
		}
		text, err := os.ReadFile(*changelog)
		if err != nil {
			return err
		}
		notes, err := releaseNotes(string(text), *version)
		if err != nil {
			return fmt.Errorf("%s: %w", *changelog, err)
		}
		_, err = io.WriteString(stdout, notes)
		return err
	default:
		return fmt.Errorf("unknown command %q: want archive, krew or notes", args[0])
	}
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
