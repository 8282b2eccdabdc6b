// Package version says which finauth a binary carries: the module version from the build
// information (a dependency at vX.Y.Z, or the main module of a `go install ...@vX.Y.Z`),
// else the VCS revision the binary was built from.
package version

import (
	"runtime/debug"
	"sync"
)

// Path is finauth's module path.
const Path = "github.com/finauth/finauth"

// Info is what the build information says of finauth.
type Info struct {
	// Version is the module version ("v0.9.0"); for a build inside a clone, the pseudo-version
	// the go command derives from the VCS ("v0.0.0-20261207161910-42518dcb7a7d+dirty"), or
	// "(devel)" without VCS information.
	Version string
	// Revision, Time and Modified are the VCS stamp of a build inside a clone (empty when the
	// build had none, as with -buildvcs=false or a module-cache build).
	Revision, Time string
	Modified       bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// stamped is set by release builds (GoReleaser: -ldflags "-X
// github.com/finauth/finauth/internal/version.stamped=v0.9.0"), whose main module is built
// from a checkout and so has no module version of its own.
var stamped string

var read = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: stamped}
	}
	info := Info{GoVersion: bi.GoVersion}
	if bi.Main.Path == Path {
		info.Version = bi.Main.Version
		if stamped != "" {
			info.Version = stamped
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
		return info
	}
	for _, d := range bi.Deps {
		if d.Path == Path {
			if d.Replace != nil && d.Replace.Version != "" {
				d = d.Replace
			}
			info.Version = d.Version
		}
	}
	return info
})

// Read returns the build information of finauth in this binary.
func Read() Info { return read() }

// Module is the version to report (the OpenTelemetry instrumentation scope's): the module
// version when it is one, else "devel+" and the first 12 characters of the VCS revision
// (with "+dirty" for a modified tree), else "".
func Module() string { return Read().module() }

func (i Info) module() string {
	switch {
	case i.Version != "" && i.Version != "(devel)":
		return i.Version
	case i.Revision != "":
		v := "devel+" + i.Revision[:min(12, len(i.Revision))]
		if i.Modified {
			v += "+dirty"
		}
		return v
	}
	return ""
}

// String is the one line finauth --version prints: "finauth v0.9.0 go1.26.8", or for a
// build inside a clone "finauth v0.0.0-20261207161910-42518dcb7a7d+dirty 42518dcb7a7d
// 2026-12-07T16:19:10Z (modified) go1.26.8".
func (i Info) String() string {
	v := i.Version
	if v == "" {
		v = "(no build information)"
	}
	s := "finauth " + v
	if i.Revision != "" {
		s += " " + i.Revision[:min(12, len(i.Revision))]
		if i.Time != "" {
			s += " " + i.Time
		}
		if i.Modified {
			s += " (modified)"
		}
	}
	if i.GoVersion != "" {
		s += " " + i.GoVersion
	}
	return s
}
