package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	blank := Info{Version: Unknown, Revision: Unknown, CommitTime: Unknown, BuildTime: Unknown, GoVersion: Unknown}
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want Info
	}{
		{"nothing stamped", debug.BuildInfo{}, blank},
		{"a clone's build", debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.time", Value: "2026-12-07T11:26:56Z"}, {Key: "vcs.modified", Value: "true"}, {Key: "-trimpath", Value: "true"},
		}}, Info{Version: "v1.2.3", Revision: "abc", Modified: true, CommitTime: "2026-12-07T11:26:56Z", BuildTime: Unknown, GoVersion: "go1.27.3"}},
	} {
		if got := fromBuildInfo(blank, &tc.bi); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestReadKnowsTheToolchain: a test binary has build information too.
func TestReadKnowsTheToolchain(t *testing.T) {
	t.Parallel()
	if got := Read(); got.GoVersion == Unknown || got.BuildTime != Unknown {
		t.Errorf("Read() = %+v", got)
	}
}
