package version

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	in := Info{Version: "v0.3.0", Revision: "4b0e3204b0e3204b0e32", Time: "2026-12-07T09:00:00Z", Modified: true, Go: "go1.26.8", Platform: "linux/amd64"}
	if got, want := in.String("steer"), "steer v0.3.0 (commit 4b0e3204b0e3, 2026-12-07T09:00:00Z, modified) go1.26.8 linux/amd64"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got, want := (Info{Version: "(devel)", Go: "go1.26.8", Platform: "linux/amd64"}).String("steer-dns"), "steer-dns (devel) go1.26.8 linux/amd64"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if g := Get(); g.Go == "" || !strings.Contains(g.Platform, "/") {
		t.Errorf("Get() = %+v: no Go version or platform", g)
	}
}
