// Package version says which build of steer is running, from the build
// information the Go toolchain embeds: the module version (a tag when
// built with `go install …@vX`), the VCS revision and time when built from
// a checkout, and the Go version and platform. It exports no metrics.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what a build knows about itself.
type Info struct {
	Version  string // module version, "(devel)" for a build in a checkout
	Revision string // VCS revision, "" when unknown
	Time     string // VCS commit time (RFC 3339), "" when unknown
	Modified bool   // the checkout had uncommitted changes
	Go       string // Go version
	Platform string // GOOS/GOARCH
}

// Get reads the running binary's build information.
func Get() Info {
	in := Info{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if bi.Main.Version != "" {
		in.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is one line: "NAME VERSION (commit REV, TIME[, modified]) GO OS/ARCH".
func (in Info) String(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", name, in.Version)
	if in.Revision != "" {
		rev := in.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		fmt.Fprintf(&b, " (commit %s", rev)
		if in.Time != "" {
			fmt.Fprintf(&b, ", %s", in.Time)
		}
		if in.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s %s", in.Go, in.Platform)
	return b.String()
}
