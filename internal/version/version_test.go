package version

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{
			Main:     debug.Module{Path: "github.com/sfconn/sfconn-operator", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}},
		}
	}
	for _, tc := range []struct {
		name                  string
		ldVersion, ldCommit   string
		bi                    *debug.BuildInfo
		wantVersion, wantComm string
	}{
		{"make build sets both", "v0.2.0-dev", "abc123", vcs("fff", "false"), "v0.2.0-dev", "abc123"},
		{"ldflags win over a dirty checkout", "v0.2.0", "abc123", vcs("fff", "true"), "v0.2.0", "abc123"},
		{"go build in a checkout", "", "", vcs("fff", "false"), "unknown", "fff"},
		{"go build in a dirty checkout", "", "", vcs("fff", "true"), "unknown", "fff-dirty"},
		{"go install module@version", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}}, "v0.3.1", "unknown"},
		{"-buildvcs=false and no ldflags", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "unknown", "unknown"},
		{"no build info at all", "", "", nil, "unknown", "unknown"},
		{"ldflags commit only", "", "abc123", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}}, "v0.3.1", "abc123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(tc.ldVersion, tc.ldCommit, tc.bi, "go1.26.8", "linux/arm64")
			want := Info{Version: tc.wantVersion, Commit: tc.wantComm, GoVersion: "go1.26.8", Platform: "linux/arm64"}
			if got != want {
				t.Errorf("resolve() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestString(t *testing.T) {
	got := Info{Version: "v0.2.0", Commit: "abc123", GoVersion: "go1.26.8", Platform: "linux/amd64"}.String()
	if want := "v0.2.0 (commit abc123, go1.26.8, linux/amd64)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
