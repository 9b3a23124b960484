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

// portableOSes are the systems steer-dns must build for besides Linux: the
// batched recvmmsg loop, eventfd, SO_REUSEPORT groups and the port lock are
// Linux's (dnsserver/*_linux.go); elsewhere the portable UDP loop serves.
var portableOSes = []string{"darwin", "freebsd", "windows"}

// TestDataPlanePortable cross-builds the lean DNS binary for each of
// portableOSes with cgo off, and vets the portable UDP path on this
// system too (-tags steerportable selects it on Linux, which is how its
// tests can run here: go test -tags steerportable ./dnsserver).
func TestDataPlanePortable(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	goBuild := func(t *testing.T, env []string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0"}, env...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, stderr.Bytes())
		}
	}
	for _, goos := range portableOSes {
		t.Run(goos, func(t *testing.T) {
			t.Parallel()
			goBuild(t, []string{"GOOS=" + goos, "GOARCH=amd64"}, "build", "-o", os.DevNull, dataPlane)
		})
	}
	t.Run("steerportable", func(t *testing.T) {
		t.Parallel()
		goBuild(t, nil, "vet", "-tags", "steerportable", "./dnsserver")
	})
}
