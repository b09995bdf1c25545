// Package version is the one version of the redstage programs (redstage,
// coordinator, worker): what `redstage version`, `--version`, the daemons'
// start-up log lines, the coordinator's NATS service and the worker records
// (`redstage workers`) report.
//
// It comes from the build: `make build` sets it with
//
//	-ldflags "-X github.com/redstage/redstage/internal/version.version=$(VERSION)"
//
// (VERSION defaults to `git describe --tags --always --dirty`). A plain
// `go build` or `go install` falls back to the module version Go stamps into
// the binary (runtime/debug.ReadBuildInfo: a tag, or a pseudo-version with
// the commit), then to the VCS revision, then to "devel".
package version

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// version is set by the linker (-X); empty in a plain go build.
var version string

// String returns the version of this build.
func String() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo derives a version from Go's build information.
func fromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// semver is the regular expression NATS micro services require of a
// service version (https://semver.org, without a leading "v").
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// Semver returns String as a semantic version without the leading "v"
// (v1.2.3 -> 1.2.3), or "0.0.0-devel" when it is not one (a revision).
// The coordinator's NATS service announces it.
func Semver() string {
	return semverOf(String())
}

func semverOf(v string) string {
	v = strings.TrimPrefix(v, "v")
	if semver.MatchString(v) {
		return v
	}
	return "0.0.0-devel"
}
