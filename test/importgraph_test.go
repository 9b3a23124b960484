// Package test holds end-to-end tests that build and run steer's binaries and
// check properties of the whole module rather than of one package.
package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const module = "github.com/steer-gslb/steer"

// dataPlanes are the lean binaries: the DNS server and the edge proxy. They
// must build without cgo and stay free of the control plane's heavy or
// risky dependencies.
var dataPlanes = []string{dataPlane, "./cmd/steer-edge"}

// dataPlane is the lean DNS binary.
const dataPlane = "./cmd/steer-dns"

// forbiddenExternal are import path prefixes that must not reach the data plane:
// the analytics store (DuckDB, cgo), H3 (cgo), the pprof HTTP handlers and
// the PNG charts of the analytics commands (gonum plot).
var forbiddenExternal = []string{
	"github.com/duckdb/",
	"github.com/marcboeuf/duckdb",
	"github.com/uber/h3-go",
	"github.com/chromedp/", // browser tests only
	"net/http/pprof",
	"gonum.org/v1/plot",
}

// forbiddenOwn are path elements of our own packages that belong to the
// control plane.
var forbiddenOwn = []string{"ui", "store", "sim", "mapbuild", "chart", "browser"}

// TestDataPlaneImportGraph guards what steer-dns and steer-edge link: no
// cgo, no store, UI, simulator or map builder, no pprof.
func TestDataPlaneImportGraph(t *testing.T) {
	for _, bin := range dataPlanes {
		t.Run(strings.TrimPrefix(bin, "./cmd/"), func(t *testing.T) { testImportGraph(t, bin) })
	}
}

func testImportGraph(t *testing.T, bin string) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if !hasGoFiles(t, filepath.Join(root, filepath.FromSlash(bin))) {
		t.Skipf("%s has no Go files yet", bin)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}

	t.Run("deps", func(t *testing.T) {
		out := run(t, root, goTool, "list", "-deps", bin)
		var bad []string
		for _, pkg := range strings.Fields(out) {
			if why := forbidden(pkg); why != "" {
				bad = append(bad, pkg+" ("+why+")")
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s depends on forbidden packages:\n\t%s", bin, strings.Join(bad, "\n\t"))
		}
	})

	t.Run("build", func(t *testing.T) {
		run(t, root, goTool, "build", "-o", os.DevNull, bin)
	})
}

// forbidden says why pkg must not be a dependency of the data plane, or "" if
// it may be.
func forbidden(pkg string) string {
	for _, p := range forbiddenExternal {
		if pkg == strings.TrimSuffix(p, "/") || strings.HasPrefix(pkg, p) {
			return "matches " + p
		}
	}
	rest, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return ""
	}
	for _, elem := range strings.Split(rest, "/") {
		for _, f := range forbiddenOwn {
			if elem == f {
				return "control-plane package /" + f
			}
		}
	}
	return ""
}

func TestForbidden(t *testing.T) {
	tests := []struct {
		pkg  string
		want bool
	}{
		{"github.com/duckdb/duckdb-go/v2", true},
		{"github.com/marcboeuf/duckdb-go", true},
		{"github.com/uber/h3-go/v4", true},
		{"net/http/pprof", true},
		{"gonum.org/v1/plot/vg/vgimg", true},
		{module + "/store", true},
		{module + "/store/duckstore", true},
		{module + "/store/chstore", true},
		{module + "/store/storeopen", true},
		{module + "/ui", true},
		{module + "/sim", true},
		{module + "/mapbuild", true},
		{module + "/internal/store/sqlstore", true},
		{"net/http", false},
		{"github.com/miekg/dns", false},
		{module + "/popmap", false},
		{module + "/dnsserver", false},
		{module + "/steering", false},
		{module + "/cmd/steer-dns", false},
		{module + "/cmd/steer-edge", false},
		{module + "/edge", false},
		{"example.com/store", false},
	}
	for _, tt := range tests {
		if got := forbidden(tt.pkg) != ""; got != tt.want {
			t.Errorf("forbidden(%q) = %v, want %v", tt.pkg, got, tt.want)
		}
	}
}

// run runs the go command in dir with cgo off and returns its standard output,
// failing the test with its standard error if it fails or takes too long.
func run(t *testing.T, dir, goTool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.String()
}

// hasGoFiles reports whether dir holds a Go file that is not a test.
func hasGoFiles(t *testing.T, dir string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return true
		}
	}
	return false
}

// TestSteerWithoutCgo: the README's first command (go run ./cmd/steer
// demo) must work on a machine with Go and no C compiler, so the steer CLI
// builds with cgo off, leaving out only the DuckDB-backed commands.
func TestSteerWithoutCgo(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	out := run(t, root, goTool, "list", "-deps", "./cmd/steer")
	for _, pkg := range strings.Fields(out) {
		if strings.Contains(pkg, "duckdb") {
			t.Errorf("with cgo off, cmd/steer still depends on %s", pkg)
		}
	}
	run(t, root, goTool, "build", "-o", os.DevNull, "./cmd/steer")
}
