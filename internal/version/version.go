// Package version says which build of sfconn is running: the manager and the kubectl plugin
// print it for --version, and a bug report can name the exact commit.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by the Makefile (-ldflags -X), from the VERSION file and git. They stay
// variables rather than constants because the linker can only rewrite variables.
var (
	version string
	commit  string
)

// Info describes one build.
type Info struct {
	// Version is v followed by the VERSION file (v0.2.0-dev), the module version when the
	// binary was built by go install module@version, or "unknown".
	Version string
	// Commit is the git commit the binary was built from, with a "-dirty" suffix when the
	// work tree had uncommitted changes, or "unknown".
	Commit    string
	GoVersion string
	Platform  string
}

// Get returns the running binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, bi, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// String is the one line that --version prints.
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}

// resolve prefers what the build set with -ldflags -X. A plain go build or go install does
// not run the Makefile, so the Go toolchain's own record of the build is the fallback: the
// module version for go install module@version, vcs.revision for a build in a git checkout
// (unless -buildvcs=false).
func resolve(ldVersion, ldCommit string, bi *debug.BuildInfo, goVersion, platform string) Info {
	info := Info{Version: ldVersion, Commit: ldCommit, GoVersion: goVersion, Platform: platform}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			info.Commit = vcsCommit(bi.Settings)
		}
	}
	if info.Version == "" {
		info.Version = "unknown"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

func vcsCommit(settings []debug.BuildSetting) string {
	var revision string
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision != "" && modified {
		revision += "-dirty"
	}
	return revision
}
