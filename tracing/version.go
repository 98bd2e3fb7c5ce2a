package tracing

import "runtime/debug"

// BuildVersion is Headroom's version as the Go toolchain recorded it in the
// binary: the module version for `go install …@v1.2.3`, a pseudo-version for
// a build from a git checkout, or "(devel)" when the toolchain knew none. It
// is what spans carry as service.version when no version was stamped with
// -ldflags (a plain `go build`), so the attribute is never empty.
func BuildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

func versionFrom(bi *debug.BuildInfo) string {
	const devel = "(devel)"
	if bi == nil {
		return devel
	}
	if v := bi.Main.Version; v != "" && v != devel {
		return v
	}
	// A build from a checkout without a module version (-buildvcs stamps
	// the revision even where it cannot compute a pseudo-version).
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return devel
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += "-modified"
	}
	return devel + " " + rev
}
