package test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/steer-gslb/steer/examples"
	"github.com/steer-gslb/steer/internal/syncbuf"
)

// This file tests packaging/ and scripts/release.sh: the systemd units
// (systemd-analyze verify and security), the release archives and their
// checksums, and the container image (built and run where podman or docker
// works).

// pkgRoot is the repository's root directory (the tests run in test/).
func pkgRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// pkgRun runs name with args in dir (the environment plus env) within
// timeout and returns its combined output.
func pkgRun(ctx context.Context, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), err
}

// pkgBuild builds ./cmd/NAME of the repository into dir/NAME with env.
func pkgBuild(t *testing.T, dir, name string, env ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	if o, err := pkgRun(t.Context(), 5*time.Minute, pkgRoot(t), env, "go", "build", "-o", out, "./cmd/"+name); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	return out
}

// pkgUnits are the systemd units of packaging/systemd, by file name: the
// binary each runs and what only the DNS server may have.
var pkgUnits = map[string]struct {
	binary string
	dns    bool // port 53 (CAP_NET_BIND_SERVICE) and reload on SIGHUP
}{
	"steer-dns.service":     {"steer-dns", true},
	"steer-collect.service": {"steer", false},
	"steer-control.service": {"steer", false},
}

// pkgUnitSettings reads a unit file's [Service] settings: key → values, in order
// (a key may repeat), comments and other sections left out.
func pkgUnitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	section := ""
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = l
		case section == "[Service]":
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s: not key=value: %q", path, l)
			}
			set[k] = append(set[k], v)
		}
	}
	return set
}

// TestPackagingSystemdUnits checks packaging/systemd's units with systemd's
// own parser: systemd-analyze verify (on copies whose ExecStart names
// binaries built from this checkout, since verify checks that the
// executable exists) and systemd-analyze security (the sandboxing settings
// it sees, and an exposure level of at most 2.0, "OK"). It also runs each
// ExecStart command line on an empty configuration directory, so that a
// flag the command does not know fails here rather than at boot.
func TestPackagingSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found: install Debian's systemd package (scripts/install-test-deps.sh does, as root) to verify packaging/systemd")
	}
	root := pkgRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "packaging", "systemd", "*.service"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"steer-collect.service", "steer-control.service", "steer-dns.service"}
	if !slices.Equal(names, want) {
		t.Fatalf("packaging/systemd has %v, want %v", names, want)
	}

	bin := t.TempDir()
	pkgBuild(t, bin, "steer-dns", "CGO_ENABLED=0")
	pkgBuild(t, bin, "steer")
	cgo, _ := pkgRun(t.Context(), time.Minute, root, nil, "go", "env", "CGO_ENABLED")
	withCgo := strings.TrimSpace(cgo) == "1"

	// The copies systemd-analyze reads: the same units, the binaries in bin.
	copies := t.TempDir()
	install := func(name string, edit func(string) string) string {
		b, err := os.ReadFile(filepath.Join(root, "packaging", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "/usr/local/bin/", bin+"/")
		if edit != nil {
			s = edit(s)
		}
		p := filepath.Join(copies, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// --recursive-errors=no (systemd 250 and later): a warning about the
	// unit itself, such as an unknown key, fails; one about a unit it
	// depends on, which this machine provides, does not.
	verifyArgs := []string{"verify", "--man=no"}
	if help, _ := pkgRun(t.Context(), time.Minute, "", nil, analyze, "--help"); strings.Contains(help, "--recursive-errors") {
		verifyArgs = append(verifyArgs, "--recursive-errors=no")
	}
	verify := func(path string) (string, error) {
		return pkgRun(t.Context(), time.Minute, copies, nil, analyze, append(verifyArgs, path)...)
	}

	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			u := pkgUnits[name]
			path := install(name, nil)
			set := pkgUnitSettings(t, path)

			out, err := verify(path)
			if err != nil || strings.Contains(out, name) {
				t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
			} else if strings.TrimSpace(out) != "" {
				t.Logf("systemd-analyze verify %s, on other units:\n%s", name, out)
			}

			// The policy of this repository, as written in the unit.
			argv := strings.Fields(strings.Join(set["ExecStart"], ""))
			if len(set["ExecStart"]) != 1 || len(argv) < 2 || argv[0] != filepath.Join(bin, u.binary) {
				t.Fatalf("ExecStart=%q: want one command running %s", set["ExecStart"], u.binary)
			}
			for _, kv := range []string{"DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
				"NoNewPrivileges=yes", "Restart=on-failure", "SystemCallFilter=@system-service"} {
				k, v, _ := strings.Cut(kv, "=")
				if !slices.Contains(set[k], v) {
					t.Errorf("%s: no %s (has %s=%q)", name, kv, k, set[k])
				}
			}
			for _, k := range []string{"StateDirectory", "RestrictAddressFamilies", "LimitNOFILE"} {
				if len(set[k]) == 0 || set[k][0] == "" {
					t.Errorf("%s: no %s=", name, k)
				}
			}
			caps, ambient, reload := set["CapabilityBoundingSet"], set["AmbientCapabilities"], strings.Join(set["ExecReload"], " ")
			if u.dns {
				if !slices.Equal(caps, []string{"CAP_NET_BIND_SERVICE"}) || !slices.Equal(ambient, []string{"CAP_NET_BIND_SERVICE"}) {
					t.Errorf("%s: CapabilityBoundingSet=%q AmbientCapabilities=%q, want CAP_NET_BIND_SERVICE alone (port 53)", name, caps, ambient)
				}
				if !strings.Contains(reload, "kill -HUP $MAINPID") {
					t.Errorf("%s: ExecReload=%q, want SIGHUP (the DNS server reloads on it)", name, reload)
				}
			} else {
				if !slices.Equal(caps, []string{""}) || len(ambient) > 0 {
					t.Errorf("%s: CapabilityBoundingSet=%q AmbientCapabilities=%q, want no capabilities", name, caps, ambient)
				}
				if reload != "" {
					t.Errorf("%s: ExecReload=%q, but %s stops on SIGHUP", name, reload, strings.Join(argv[:2], " "))
				}
			}

			// The same as systemd sees it.
			t.Run("security", func(t *testing.T) {
				out, err := pkgRun(t.Context(), time.Minute, copies, nil, analyze, "security", "--offline=true", "--json=short", "--no-pager", path)
				if err != nil && (strings.Contains(out, "unrecognized option") || strings.Contains(out, "Unknown")) {
					t.Skipf("this systemd-analyze has no offline security review (systemd 250 and later): %s", strings.TrimSpace(out))
				}
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				var checks []struct {
					Set   bool   `json:"set"`
					Field string `json:"json_field"`
				}
				if err := json.Unmarshal([]byte(out), &checks); err != nil {
					t.Fatalf("systemd-analyze security --json: %v\n%s", err, out)
				}
				got := map[string]bool{}
				for _, c := range checks {
					got[c.Field] = c.Set
				}
				wantSet := []string{"UserOrDynamicUser", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
					"NoNewPrivileges", "SystemCallArchitectures", "SystemCallFilter_privileged", "SystemCallFilter_mount",
					"RestrictAddressFamilies_OTHER", "RestrictAddressFamilies_AF_PACKET", "RestrictNamespaces_user",
					"CapabilityBoundingSet_CAP_SYS_ADMIN", "CapabilityBoundingSet_CAP_NET_ADMIN", "MemoryDenyWriteExecute"}
				if !u.dns {
					// No capability at all: not even a low port.
					wantSet = append(wantSet, "AmbientCapabilities")
				}
				for _, f := range wantSet {
					if on, ok := got[f]; !ok || !on {
						t.Errorf("systemd-analyze security: %s not set (known: %v)", f, ok)
					}
				}
				if out, err := pkgRun(t.Context(), time.Minute, copies, nil, analyze, "security", "--offline=true", "--threshold=20", "--no-pager", path); err != nil {
					t.Errorf("exposure level above 2.0: %v\n%s", err, out)
				} else {
					t.Logf("%s", pkgLastLine(out))
				}
			})

			// The command line as the unit runs it, on a configuration
			// directory that is empty: every flag is known (an unknown one
			// exits 2), and the command gets as far as its config file.
			t.Run("command", func(t *testing.T) {
				if argv[1] == "collect" && !withCgo {
					t.Skip("steer is built without cgo here (no C compiler): steer collect is not in it")
				}
				etc, state := t.TempDir(), t.TempDir()
				var args []string
				for _, a := range argv[1:] {
					a = strings.ReplaceAll(a, "/etc/steer/", etc+"/")
					args = append(args, strings.ReplaceAll(a, "/var/lib/", state+"/"))
				}
				out, err := pkgRun(t.Context(), time.Minute, copies, nil, argv[0], args...)
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, etc+"/") || !strings.Contains(out, "no such file") {
					t.Errorf("on a missing config: %v; want exit status 1 and an error naming the config under %s\n%s", err, etc, out)
				}
			})
		})
	}

	// verify must catch what it is here for, or its silence above means
	// nothing: an unknown key, and a binary that is not there.
	t.Run("catches", func(t *testing.T) {
		bad := install("steer-dns.service", func(s string) string {
			return strings.Replace(s, "[Service]\n", "[Service]\nProtectSystm=strict\n", 1)
		})
		out, err := verify(bad)
		if !strings.Contains(out, "ProtectSystm") || !strings.Contains(out, "steer-dns.service") {
			t.Errorf("systemd-analyze verify says nothing of an unknown key:\n%s", out)
		}
		if err == nil && slices.Contains(verifyArgs, "--recursive-errors=no") {
			t.Errorf("systemd-analyze %s exits 0 on an unknown key:\n%s", strings.Join(verifyArgs, " "), out)
		}
		missing := install("steer-dns.service", func(s string) string {
			return strings.ReplaceAll(s, bin+"/steer-dns", bin+"/no-such-binary")
		})
		if out, err := verify(missing); err == nil || !strings.Contains(out, "no-such-binary") {
			t.Errorf("systemd-analyze verify passes a unit whose binary is missing: %v\n%s", err, out)
		}
	})
}

func pkgLastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// TestPackagingRelease runs scripts/release.sh (make release) for this
// platform's steer-dns into a temporary directory, twice: the archive
// holds the binary (static, the platform's, stamped with the commit),
// LICENSE, README and the systemd unit that runs it; SHA256SUMS verifies;
// and the two runs' archives are identical (reproducible: byte for byte in
// a clean checkout, their headers where files are being edited).
// STEER_TEST_RELEASE=full builds the whole release instead (every
// platform, and steer with cgo where it can be built): 15 s with a warm
// build cache, minutes on a cold one.
func TestPackagingRelease(t *testing.T) {
	root := pkgRoot(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found: scripts/release.sh needs it")
	}
	full := os.Getenv("STEER_TEST_RELEASE") == "full"
	const version = "0.0.0-test"
	env := []string{"VERSION=v" + version} // the leading v is dropped, as goreleaser does
	if !full {
		env = append(env, "PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH, "SKIP_CGO=1")
	}
	release := func() (string, string) {
		dist := t.TempDir()
		start := time.Now()
		out, err := pkgRun(t.Context(), 20*time.Minute, root, append(env, "DIST="+dist), "bash", "scripts/release.sh")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		t.Logf("scripts/release.sh in %.1f s:\n%s", time.Since(start).Seconds(), out)
		return dist, out
	}
	dist, out := release()

	sums := pkgReadSums(t, filepath.Join(dist, "SHA256SUMS"))
	archives, err := filepath.Glob(filepath.Join(dist, "*.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(archives) == 0 || len(sums) != len(archives) {
		t.Fatalf("%d archives, %d lines in SHA256SUMS", len(archives), len(sums))
	}
	for _, a := range archives {
		b, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		if got := hex.EncodeToString(h[:]); sums[filepath.Base(a)] != got {
			t.Errorf("SHA256SUMS has %s for %s, the file's is %s", sums[filepath.Base(a)], filepath.Base(a), got)
		}
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		if out, err := pkgRun(t.Context(), time.Minute, dist, nil, "sha256sum", "-c", "SHA256SUMS"); err != nil {
			t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
		}
	}

	wantArchives := []string{fmt.Sprintf("steer-dns_%s_%s_%s.tar.gz", version, runtime.GOOS, runtime.GOARCH)}
	if full {
		wantArchives = nil
		for _, p := range []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"} {
			wantArchives = append(wantArchives, "steer-dns_"+version+"_"+p+".tar.gz")
		}
		if _, skipped, ok := strings.Cut(out, "skipping steer"); ok {
			t.Logf("steer (cgo) left out: %s", skipped)
		} else {
			wantArchives = append(wantArchives, "steer_"+version+"_linux_amd64.tar.gz")
		}
	}
	for _, name := range wantArchives {
		if _, ok := sums[name]; !ok {
			t.Errorf("no %s in the release (have %v)", name, slices.Sorted(func(yield func(string) bool) {
				for k := range sums {
					if !yield(k) {
						return
					}
				}
			}))
			continue
		}
		pkgCheckArchive(t, filepath.Join(dist, name))
	}

	if !full {
		// Reproducible: the archives' headers (names, modes, owners,
		// times) always, and their bytes when nothing in the checkout is
		// being edited between the two runs.
		again, _ := release()
		for _, name := range wantArchives {
			a, b := pkgTarHeaders(t, filepath.Join(dist, name)), pkgTarHeaders(t, filepath.Join(again, name))
			if !slices.Equal(a, b) {
				t.Errorf("%s: two releases of the same checkout differ:\n%s\n%s", name, strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
		}
		status, err := pkgRun(t.Context(), time.Minute, root, nil, "git", "status", "--porcelain")
		if err == nil && strings.TrimSpace(status) == "" {
			if a, b := pkgReadFile(t, filepath.Join(dist, "SHA256SUMS")), pkgReadFile(t, filepath.Join(again, "SHA256SUMS")); a != b {
				t.Errorf("two releases of the same commit differ:\n%s\n%s", a, b)
			}
		} else {
			t.Log("the checkout has uncommitted changes (or no git): the two releases' bytes are not compared")
		}
	}
}

// pkgTarHeaders lists the headers of a .tar.gz's entries, and the gzip
// header, as text.
func pkgTarHeaders(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := []string{fmt.Sprintf("gzip name=%q mtime=%v os=%d", zr.Name, zr.ModTime.Unix(), zr.OS)}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, fmt.Sprintf("%s %c %o %d:%d %q:%q %d", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.Unix()))
	}
}

func pkgReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pkgReadSums parses a sha256sum file: file name → hex digest.
func pkgReadSums(t *testing.T, path string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for l := range strings.Lines(pkgReadFile(t, path)) {
		sum, name, ok := strings.Cut(strings.TrimSuffix(l, "\n"), "  ")
		if !ok || len(sum) != 64 || name == "" {
			t.Fatalf("%s: not a sha256sum line: %q", path, l)
		}
		sums[name] = sum
	}
	return sums
}

// pkgCheckArchive checks a release archive NAME_VERSION_OS_ARCH.tar.gz: one
// directory of that name, owned by root, with the binary (for OS and ARCH;
// static unless it is steer, which links DuckDB), LICENSE, README.md and
// on Linux the systemd units that run it; the binary runs here when the
// platform is this one and prints its version.
func pkgCheckArchive(t *testing.T, path string) {
	t.Helper()
	base := strings.TrimSuffix(filepath.Base(path), ".tar.gz")
	parts := strings.Split(base, "_")
	if len(parts) != 4 {
		t.Fatalf("%s: not NAME_VERSION_OS_ARCH.tar.gz", path)
	}
	name, goos, goarch := parts[0], parts[2], parts[3]
	files := pkgReadTarGz(t, path)
	var list []string
	for f, h := range files {
		list = append(list, f)
		if h.hdr.Uid != 0 || h.hdr.Gid != 0 {
			t.Errorf("%s: %s is owned by %d:%d, want 0:0", base, f, h.hdr.Uid, h.hdr.Gid)
		}
	}
	slices.Sort(list)
	want := []string{"LICENSE", "README.md", name}
	if goos == "linux" {
		for u, info := range pkgUnits {
			if info.binary == name {
				want = append(want, "systemd/"+u)
			}
		}
	}
	slices.Sort(want)
	for i := range want {
		want[i] = base + "/" + want[i]
	}
	if !slices.Equal(list, want) {
		t.Fatalf("%s holds %v, want %v", base, list, want)
	}
	bin := files[base+"/"+name]
	if bin.hdr.Mode&0o111 == 0 {
		t.Errorf("%s: %s is not executable (mode %o)", base, name, bin.hdr.Mode)
	}
	if got, want := pkgReadFile(t, filepath.Join(pkgRoot(t), "LICENSE")), string(files[base+"/LICENSE"].data); got != want {
		t.Errorf("%s: LICENSE differs from the repository's", base)
	}

	switch goos {
	case "linux":
		f, err := elf.NewFile(bytes.NewReader(bin.data))
		if err != nil {
			t.Fatalf("%s/%s: %v", base, name, err)
		}
		machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != machine {
			t.Errorf("%s/%s is for %v, want %v", base, name, f.Machine, machine)
		}
		interp := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		if interp != (name == "steer") {
			t.Errorf("%s/%s: dynamically linked %v, want %v (only steer links DuckDB with cgo)", base, name, interp, name == "steer")
		}
	case "darwin":
		f, err := macho.NewFile(bytes.NewReader(bin.data))
		if err != nil {
			t.Fatalf("%s/%s: %v", base, name, err)
		}
		cpu := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != cpu {
			t.Errorf("%s/%s is for %v, want %v", base, name, f.Cpu, cpu)
		}
	default:
		t.Errorf("%s: unexpected OS %q", base, goos)
	}

	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		return
	}
	exe := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(exe, bin.data, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--version"}
	if name == "steer" {
		args = []string{"version"}
	}
	out, err := pkgRun(t.Context(), time.Minute, "", nil, exe, args...)
	if err != nil || !strings.HasPrefix(out, name+" ") {
		t.Fatalf("%s %s: %v\n%s", name, args[0], err, out)
	}
	// -buildvcs=auto overrides this machine's GOFLAGS=-buildvcs=false: a
	// release built in a git checkout names its commit.
	if _, err := os.Stat(filepath.Join(pkgRoot(t), ".git")); err == nil {
		if _, err := exec.LookPath("git"); err == nil && !strings.Contains(out, "(commit ") {
			t.Errorf("%s %s does not name the commit: %s", name, args[0], out)
		}
	}
	t.Logf("%s: %s", base, strings.TrimSpace(out))
}

type pkgTarFile struct {
	hdr  *tar.Header
	data []byte
}

// pkgReadTarGz reads a .tar.gz: regular files by name; it fails on anything
// but regular files and directories, and on names leaving the archive.
func pkgReadTarGz(t *testing.T, path string) map[string]pkgTarFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	files := map[string]pkgTarFile{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("%s: entry %q leaves the archive", path, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, h.Name, err)
			}
			files[h.Name] = pkgTarFile{h, b}
		default:
			t.Fatalf("%s: %s is of type %c", path, h.Name, h.Typeflag)
		}
	}
}

// pkgContainerTool is a container builder that works on this machine.
type pkgContainerTool struct {
	name    string // podman, docker or buildah
	path    string
	runtime string   // podman: the OCI runtime to use ("" = its default)
	limits  []string // --ulimit flags for podman run or docker run (nil = the defaults)
}

// args returns the arguments of a call of the tool, with its runtime.
func (c *pkgContainerTool) args(args ...string) []string {
	if c.runtime != "" {
		return append([]string{"--runtime", c.runtime}, args...)
	}
	return args
}

func (c *pkgContainerTool) run(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	return pkgRun(t.Context(), timeout, pkgRoot(t), nil, c.path, c.args(args...)...)
}

// pkgFindContainerTool returns the first of podman, docker and buildah that is
// installed and answers `info`, or nil and why none does.
func pkgFindContainerTool(t *testing.T) (*pkgContainerTool, string) {
	t.Helper()
	var why []string
	for _, name := range []string{"podman", "docker", "buildah"} {
		path, err := exec.LookPath(name)
		if err != nil {
			why = append(why, name+" is not installed")
			continue
		}
		out, err := pkgRun(t.Context(), 30*time.Second, "", nil, path, "info")
		if err != nil {
			why = append(why, fmt.Sprintf("%s is installed but `%s info` fails (%s)", name, name, pkgLastLine(out)))
			continue
		}
		return &pkgContainerTool{name: name, path: path}, ""
	}
	return nil, strings.Join(why, "; ")
}

// imageExists reports whether image is in the tool's local storage.
func (c *pkgContainerTool) imageExists(t *testing.T, image string) bool {
	t.Helper()
	var err error
	switch c.name {
	case "podman":
		_, err = c.run(t, time.Minute, "image", "exists", image)
	case "docker":
		_, err = c.run(t, time.Minute, "image", "inspect", image)
	default:
		_, err = c.run(t, time.Minute, "inspect", "--type", "image", image)
	}
	return err == nil
}

// pkgImageConfig is the part of an image's config the test checks.
type pkgImageConfig struct {
	User         string
	ExposedPorts map[string]struct{}
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	Labels       map[string]string
}

func (c *pkgContainerTool) inspect(t *testing.T, image string) pkgImageConfig {
	t.Helper()
	args := []string{"image", "inspect", "--format", "{{json .Config}}", image}
	if c.name == "buildah" {
		args = []string{"inspect", "--type", "image", "--format", "{{json .OCIv1.Config}}", image}
	}
	out, err := c.run(t, time.Minute, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var cfg pkgImageConfig
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("%s inspect %s: %v\n%s", c.name, image, err, out)
	}
	return cfg
}

// pkgUlimitFlags caps the container's open files and processes at 4096
// or this process's hard limits if lower: runtimes set their own defaults
// (podman: a million of each), which a sandbox without CAP_SYS_RESOURCE,
// like the CI machine, cannot raise its limits to.
func pkgUlimitFlags() []string {
	var flags []string
	for _, l := range []struct {
		name     string
		resource int
	}{{"nofile", unix.RLIMIT_NOFILE}, {"nproc", unix.RLIMIT_NPROC}} {
		n := uint64(4096)
		var rl unix.Rlimit
		if unix.Getrlimit(l.resource, &rl) == nil && rl.Max < n {
			n = rl.Max
		}
		flags = append(flags, "--ulimit", fmt.Sprintf("%s=%d:%d", l.name, n, n))
	}
	return flags
}

// pkgDockerfileArgs returns the defaults of the Dockerfile's ARGs.
func pkgDockerfileArgs(t *testing.T, path string) map[string]string {
	t.Helper()
	args := map[string]string{}
	re := regexp.MustCompile(`(?m)^ARG ([A-Z_]+)=(\S+)$`)
	for _, m := range re.FindAllStringSubmatch(pkgReadFile(t, path), -1) {
		args[m[1]] = m[2]
	}
	return args
}

// TestPackagingContainerImage builds packaging/container/Dockerfile with
// podman, docker or buildah, whichever works here, checks the image's
// config (non-root user 65532, ports 53/udp, 53/tcp and 9153, the config
// at /etc/steer/steer.yaml) and, with podman or docker, runs it: --version,
// then the server on a config mounted at /etc/steer, answering queries over
// the host's loopback, writing its query log into /var/lib/steer-dns as
// the non-root user, reloading on SIGHUP and exiting 0 on SIGTERM.
//
// The base images (golang, distroless) are used when they are present
// locally, or pulled with STEER_TEST_IMAGE_PULL=1. Otherwise, with podman,
// the same Dockerfile is built offline on stand-ins: GO_IMAGE an empty
// image into which this machine's Go toolchain, module cache and build
// cache are mounted (podman build -v), RUNTIME_IMAGE scratch.
func TestPackagingContainerImage(t *testing.T) {
	tool, why := pkgFindContainerTool(t)
	if tool == nil {
		t.Skipf("no working container builder, so packaging/container/Dockerfile is not built: %s", why)
	}
	root := pkgRoot(t)
	dockerfile := filepath.Join(root, "packaging", "container", "Dockerfile")
	bases := pkgDockerfileArgs(t, dockerfile)
	goImage, runtimeImage := bases["GO_IMAGE"], bases["RUNTIME_IMAGE"]
	if goImage == "" || runtimeImage == "" {
		t.Fatalf("%s: no ARG GO_IMAGE=… and ARG RUNTIME_IMAGE=… defaults (have %v)", dockerfile, bases)
	}
	id := strconv.Itoa(os.Getpid())
	tag := "localhost/steer-dns-test:" + id
	build := []string{"build", "-f", dockerfile, "-t", tag}
	if tool.name != "docker" {
		build = append(build, "--layers=false") // no intermediate images left behind
	}

	var missing []string
	for _, img := range []string{goImage, runtimeImage} {
		if !tool.imageExists(t, img) {
			missing = append(missing, img)
		}
	}
	standIn := ""
	switch {
	case len(missing) == 0:
	case os.Getenv("STEER_TEST_IMAGE_PULL") == "1":
		for _, img := range missing {
			if out, err := tool.run(t, 15*time.Minute, "pull", img); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
	case tool.name == "podman":
		standIn = "localhost/steer-test-go:" + id
		build = append(build, pkgStandInBuilder(t, tool, standIn)...)
		build = append(build, "--build-arg", "GO_IMAGE="+standIn, "--build-arg", "RUNTIME_IMAGE=scratch")
		t.Logf("base images %v not present here: building on stand-ins (this machine's Go toolchain in %s, scratch); STEER_TEST_IMAGE_PULL=1 pulls them", missing, standIn)
	default:
		t.Skipf("%s: base images %v not present and not pulled (STEER_TEST_IMAGE_PULL=1 pulls them; the offline stand-ins need podman build -v)", tool.name, missing)
	}
	t.Cleanup(func() {
		for _, img := range []string{tag, standIn} {
			if img != "" {
				_, _ = pkgRun(context.Background(), time.Minute, root, nil, tool.path, tool.args("rmi", "-f", img)...)
			}
		}
	})
	if tool.name != "buildah" {
		pkgProbeRuntime(t, tool, pkgFirst(standIn, goImage), standIn != "")
	}

	start := time.Now()
	out, err := tool.run(t, 20*time.Minute, append(build, root)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, tailString(out, 4000))
	}
	t.Logf("%s build: %.1f s", tool.name, time.Since(start).Seconds())

	cfg := tool.inspect(t, tag)
	if cfg.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532 (non-root)", cfg.User)
	}
	for _, p := range []string{"53/udp", "53/tcp", "9153/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s (exposes %v)", p, cfg.ExposedPorts)
		}
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/steer-dns"}) || !slices.Equal(cfg.Cmd, []string{"--config", "/etc/steer/steer.yaml"}) {
		t.Errorf("image runs %q %q, want steer-dns --config /etc/steer/steer.yaml", cfg.Entrypoint, cfg.Cmd)
	}
	if cfg.Labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
		t.Errorf("image labels %v: no licence", cfg.Labels)
	}
	if tool.name == "buildah" {
		return // buildah builds; it does not run containers
	}
	pkgRunContainer(t, tool, tag, id)
}

func pkgFirst(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pkgStandInBuilder imports an empty image with the Go settings of an offline
// build as image and returns the podman build flags that mount this
// machine's Go toolchain, module cache and build cache into it.
func pkgStandInBuilder(t *testing.T, tool *pkgContainerTool, image string) []string {
	t.Helper()
	goenv := map[string]string{}
	out, err := pkgRun(t.Context(), time.Minute, pkgRoot(t), nil, "go", "env", "-json", "GOROOT", "GOMODCACHE", "GOCACHE")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &goenv); err != nil {
		t.Fatal(err)
	}
	if goenv["GOCACHE"] == "" || goenv["GOCACHE"] == "off" || goenv["GOMODCACHE"] == "" {
		t.Skipf("the offline build needs a Go build and module cache (go env: %v)", goenv)
	}
	// The image: /tmp and /root, nothing else (the build runs no shell).
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, d := range []struct {
		name string
		mode int64
	}{{"tmp/", 0o1777}, {"root/", 0o700}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "go-standin.tar")
	if err := os.WriteFile(tarball, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"import"}
	for _, e := range []string{"PATH=/usr/local/go/bin:/usr/bin:/bin", "HOME=/root", "GOTOOLCHAIN=local", "GOPROXY=off",
		"GOCACHE=/hostcache/build", "GOMODCACHE=/hostcache/mod"} {
		args = append(args, "--change", "ENV "+e)
	}
	if out, err := tool.run(t, 2*time.Minute, append(args, tarball, image)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return []string{
		"-v", goenv["GOROOT"] + ":/usr/local/go:ro",
		"-v", goenv["GOMODCACHE"] + ":/hostcache/mod",
		"-v", goenv["GOCACHE"] + ":/hostcache/build",
	}
}

// pkgProbeRuntime runs the Go toolchain in the builder image, as the
// build's RUN step will, with the default OCI runtime and, for podman, then
// with runc (crun refuses a host with cgroup v1 and v2 controllers both,
// "hybrid mode", as on the CI machine; runc does not), each with the
// default resource limits and then with pkgUlimitFlags. It keeps the first
// that works for the build and the containers the test runs, and skips
// the test when none does.
func pkgProbeRuntime(t *testing.T, tool *pkgContainerTool, image string, standIn bool) {
	t.Helper()
	var mount []string
	if standIn {
		goroot, err := pkgRun(t.Context(), time.Minute, "", nil, "go", "env", "GOROOT")
		if err != nil {
			t.Fatal(err)
		}
		mount = []string{"-v", strings.TrimSpace(goroot) + ":/usr/local/go:ro"}
	}
	runtimes := []string{""}
	if _, err := exec.LookPath("runc"); err == nil && tool.name == "podman" {
		runtimes = append(runtimes, "runc")
	}
	var why []string
	for _, rt := range runtimes {
		for _, limits := range [][]string{nil, pkgUlimitFlags()} {
			tool.runtime, tool.limits = rt, limits
			args := append(append(append([]string{"run", "--rm"}, limits...), mount...), image, "/usr/local/go/bin/go", "version")
			out, err := tool.run(t, 2*time.Minute, args...)
			if err == nil {
				if rt != "" || limits != nil {
					t.Logf("%s runs containers here with --runtime %q %s (after: %s)", tool.name, rt, strings.Join(limits, " "), strings.Join(why, "; "))
				}
				return
			}
			why = append(why, pkgLastLine(out))
		}
	}
	t.Skipf("%s is installed but cannot run a container here (%s), so packaging/container/Dockerfile is not built", tool.name, strings.Join(why, "; "))
}

// pkgRunContainer runs the image: --version, then the DNS server on the
// example config mounted at /etc/steer, over the host's network.
func pkgRunContainer(t *testing.T, tool *pkgContainerTool, image, id string) {
	run := append([]string{"run", "--rm"}, tool.limits...)
	out, err := tool.run(t, 2*time.Minute, append(run, image, "--version")...)
	if err != nil || !strings.HasPrefix(out, "steer-dns ") {
		t.Fatalf("steer-dns --version in the image: %v\n%s", err, out)
	}
	t.Logf("in the image: %s", strings.TrimSpace(out))

	// The example config, listening on loopback ports of the host (the
	// container shares its network), the query log in the state directory.
	etc := t.TempDir()
	if err := os.Chmod(etc, 0o755); err != nil { // the server runs as 65532
		t.Fatal(err)
	}
	if err := examples.WriteTo(etc); err != nil {
		t.Fatal(err)
	}
	port, adminPort := freePort(t), freePort(t)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	editYAML(t, filepath.Join(etc, "steer.yaml"), map[string]string{
		"listen.dns":         fmt.Sprintf(`["%s"]`, addr),
		"listen.admin":       `"` + admin + `"`,
		"listen.udp_sockets": `1`,
		"query_log":          `/var/lib/steer-dns/queries.ndjson`,
	})

	name := "steer-dns-test-" + id
	cmd := exec.Command(tool.path, tool.args(append(run, "--name", name, "--network", "host", "-v", etc+":/etc/steer:ro", image)...)...)
	logs := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed when podman run has returned, with waitErr
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_, _ = pkgRun(context.Background(), time.Minute, "", nil, tool.path, tool.args("rm", "-f", name)...)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("container log:\n%s", tailString(logs.String(), 4000))
		}
	})

	ask := func(qname string) []string {
		r, err := query(addr, netip.Addr{}, qname, dns.TypeA, netip.MustParsePrefix("198.18.16.0/24"), 500*time.Millisecond)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			return nil
		}
		var got []string
		for _, a := range answerAddrs(r) {
			got = append(got, a.String())
		}
		return got
	}
	var answer []string
	started := time.Now()
	pkgPoll(t, 60*time.Second, "the containerized server to answer www.example.net", func() bool {
		select {
		case <-exited:
			t.Fatalf("the container exited: %v\n%s", waitErr, logs.String())
		default:
		}
		answer = ask("www.example.net")
		return len(answer) > 0
	})
	t.Logf("www.example.net A from the container: %v (%.1f s after podman run)", answer, time.Since(started).Seconds())

	// A RUM name: its query is logged in /var/lib/steer-dns, written by the
	// non-root user in the image's own directory.
	rum := "packaging-" + id + ".rum.example.net"
	if ask(rum) == nil {
		t.Fatalf("no answer for %s", rum)
	}
	copied := filepath.Join(t.TempDir(), "queries.ndjson")
	pkgPoll(t, 20*time.Second, "the query log in /var/lib/steer-dns", func() bool {
		if _, err := pkgRun(t.Context(), time.Minute, "", nil, tool.path, tool.args("cp", name+":/var/lib/steer-dns/queries.ndjson", copied)...); err != nil {
			return false
		}
		b, _ := os.ReadFile(copied)
		return bytes.Contains(b, []byte(rum))
	})

	// SIGHUP reloads: the snapshot serial goes to 2.
	if out, err := tool.run(t, time.Minute, "kill", "--signal", "HUP", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pkgPoll(t, 20*time.Second, "steer_dns_snapshot_serial 2 after SIGHUP", func() bool {
		return metricValue(t, admin, "steer_dns_snapshot_serial") == 2
	})

	// SIGTERM (stop) ends it cleanly.
	if out, err := tool.run(t, time.Minute, "stop", "--time", "20", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("the container exited with %v after SIGTERM, want 0\n%s", waitErr, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the container did not exit within 30 s of podman stop")
	}
	if sc := bufio.NewScanner(strings.NewReader(logs.String())); sc.Scan() {
		t.Logf("container log starts: %s", sc.Text())
	}
	t.Logf("container run, queries, reload and stop: %.1f s", time.Since(started).Seconds())

	t.Run("port53", func(t *testing.T) { pkgPort53(t, tool, image, etc, run, id) })
}

// pkgPort53 runs the image as the Dockerfile's comment says to serve port
// 53 without root: the config listening on 0.0.0.0:53 in the container's
// own network namespace, whose net.ipv4.ip_unprivileged_port_start lets
// user 65532 bind it, published on a loopback port of the host; UDP and
// TCP queries through it are answered. It is skipped when the runtime
// cannot publish ports here (no container network).
func pkgPort53(t *testing.T, tool *pkgContainerTool, image, etc string, run []string, id string) {
	if err := os.Chmod(filepath.Join(etc, "steer.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	editYAML(t, filepath.Join(etc, "steer.yaml"), map[string]string{
		"listen.dns":   `["0.0.0.0:53"]`,
		"listen.admin": `"0.0.0.0:9153"`,
	})
	port := freePort(t)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	name := "steer-dns-test-53-" + id
	args := append(append([]string{}, run...), "-d", "--name", name,
		"--sysctl", "net.ipv4.ip_unprivileged_port_start=53", "-v", etc+":/etc/steer:ro",
		"-p", fmt.Sprintf("%s:53/udp", addr), "-p", fmt.Sprintf("%s:53/tcp", addr), image)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := pkgRun(context.Background(), time.Minute, "", nil, tool.path, tool.args("logs", name)...)
			t.Logf("container log:\n%s", tailString(out, 4000))
		}
		_, _ = pkgRun(context.Background(), time.Minute, "", nil, tool.path, tool.args("rm", "-f", name)...)
	})
	if out, err := tool.run(t, 2*time.Minute, args...); err != nil {
		t.Skipf("%s cannot start a container with a network of its own and published ports here: %v\n%s", tool.name, err, pkgLastLine(out))
	}
	for _, network := range []string{"udp", "tcp"} {
		pkgPoll(t, 30*time.Second, "an answer over "+network+" from port 53 in the container", func() bool {
			m := new(dns.Msg)
			m.SetQuestion("www.example.net.", dns.TypeA)
			r, _, err := (&dns.Client{Net: network, Timeout: 500 * time.Millisecond}).Exchange(m, addr.String())
			return err == nil && r.Rcode == dns.RcodeSuccess && len(answerAddrs(r)) > 0
		})
	}
	t.Logf("port 53 in the container, as user 65532, answers over UDP and TCP through %s", addr)
}

// pkgPoll waits until cond holds, checking every 200 ms (each check here
// starts a process or makes a round trip), or fails after within.
func pkgPoll(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}
