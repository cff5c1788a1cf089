// Command sfconn-image assembles the operator's OCI image from manager binaries built by the
// Makefile, without Docker or a base image from a registry, and pushes it.
//
//	sfconn-image build -out bin/image -binary linux/amd64=PATH -binary linux/arm64=PATH ...
//	sfconn-image push -layout bin/image -ref ghcr.io/sfconn/sfconn-operator:v0.2.0
//
// It lives in a module of its own so that go-containerregistry and the SBOM library stay out
// of the operator's go.mod: the manager never imports them.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sfconn-image build|push [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "push":
		err = runPush(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want build or push", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfconn-image:", err)
		os.Exit(1)
	}
}

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	var spec Spec
	var binaries platformFlag
	var epoch string
	out := fs.String("out", "", "directory of the OCI image layout to write (replaced)")
	sbom := fs.String("sbom", "", "file to write the CycloneDX SBOM to (default: OUT/sbom.cdx.json)")
	fs.Var(&binaries, "binary", "OS/ARCH=PATH of a static manager binary; once per platform")
	fs.StringVar(&spec.Version, "version", "", "version label and tag, such as v0.2.0")
	fs.StringVar(&spec.Revision, "revision", "", "git commit the binaries were built from")
	fs.StringVar(&spec.Source, "source", "https://github.com/sfconn/sfconn-operator", "source repository URL")
	fs.StringVar(&epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "creation time, seconds since 1970 (the commit time keeps builds reproducible)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || len(binaries) == 0 || spec.Version == "" || spec.Revision == "" || epoch == "" {
		return fmt.Errorf("build needs -out, -binary, -version, -revision and -source-date-epoch")
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("-source-date-epoch %q: %w", epoch, err)
	}
	spec.Created = time.Unix(secs, 0).UTC()
	spec.Binaries = binaries
	if *sbom == "" {
		*sbom = *out + "/sbom.cdx.json"
	}
	digest, err := Build(spec, *out, *sbom)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (index %s) and %s\n", *out, digest, *sbom)
	return nil
}

func runPush(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	layoutDir := fs.String("layout", "", "directory of the OCI image layout that build wrote")
	ref := fs.String("ref", "", "where to push, such as ghcr.io/sfconn/sfconn-operator:v0.2.0")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *layoutDir == "" || *ref == "" {
		return fmt.Errorf("push needs -layout and -ref")
	}
	pushed, err := Push(*layoutDir, *ref)
	if err != nil {
		return err
	}
	// The digest is what a signature must name: the tag can move, the digest cannot.
	fmt.Println(pushed)
	return nil
}

// platformFlag collects -binary OS/ARCH=PATH in the order given.
type platformFlag []Binary

func (p *platformFlag) String() string { return fmt.Sprint(*p) }

func (p *platformFlag) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	osName, arch, ok2 := strings.Cut(platform, "/")
	if !ok || !ok2 || path == "" || osName == "" || arch == "" {
		return fmt.Errorf("want OS/ARCH=PATH, got %q", v)
	}
	*p = append(*p, Binary{OS: osName, Arch: arch, Path: path})
	return nil
}
