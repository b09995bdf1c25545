package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged module", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"pseudo-version", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202072000-0123456789ab+dirty"}}, "v0.0.0-20261202072000-0123456789ab+dirty"},
		{"vcs only", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, "devel-0123456789ab-dirty"},
		{"nothing", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	}
	for _, tc := range tests {
		if got := fromBuildInfo(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSemver(t *testing.T) {
	for in, want := range map[string]string{
		"v1.4.0":     "1.4.0",
		"1.4.0-rc.1": "1.4.0-rc.1",
		"v0.0.0-20261202072000-0123456789ab+dirty": "0.0.0-20261202072000-0123456789ab+dirty",
		"devel-0123456789ab":                       "0.0.0-devel",
		"1a2b3c4-dirty":                            "0.0.0-devel",
		"":                                         "0.0.0-devel",
	} {
		if got := semverOf(in); got != want {
			t.Errorf("semverOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStringNeverEmpty(t *testing.T) {
	if String() == "" {
		t.Fatal("empty version")
	}
}
