// Package buildinfo says which build of breachnotify is running: the
// module version, the VCS revision and time the Go toolchain stamped into
// the binary, and the build time the release build passes with -ldflags.
// The version command prints it and the breachnotify_build_info metric
// exports it.
package buildinfo

import (
	"runtime/debug"
)

// Set with -ldflags "-X github.com/breachnotify/breachnotify/notifier/buildinfo.buildTime=…"
// (and revision, when the source has no .git for the Go VCS stamp, as in
// a container build from a tarball). The toolchain records no build time
// of its own: only the commit's time.
var (
	buildTime string
	revision  string
	version   string
)

// Unknown stands for a field the build did not record (go run, tests, a
// build without .git and without -ldflags).
const Unknown = "unknown"

// Info is what the binary knows about its own build. The JSON field names
// are stable: scripts and the version command's -o json rely on them.
type Info struct {
	// Version is the module version ("v1.2.3", or a pseudo-version;
	// "(devel)" for a build from a work tree).
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from.
	Revision string `json:"revision"`
	// Modified says the work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// CommitTime is the revision's commit time (RFC 3339).
	CommitTime string `json:"commit_time"`
	// BuildTime is when the binary was built (RFC 3339), when the build
	// passed it.
	BuildTime string `json:"build_time"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// Read returns this binary's build information.
func Read() Info {
	info := Info{Version: Unknown, Revision: Unknown, CommitTime: Unknown, BuildTime: Unknown, GoVersion: Unknown}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info = fromBuildInfo(info, bi)
	}
	if version != "" {
		info.Version = version
	}
	if revision != "" {
		info.Revision = revision
	}
	if buildTime != "" {
		info.BuildTime = buildTime
	}
	return info
}

func fromBuildInfo(info Info, bi *debug.BuildInfo) Info {
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.CommitTime = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}
