package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/querytail"
	"github.com/steer-gslb/steer/rum"
)

// TestFaultQueryLogRotation rotates a running DNS server's query log with
// the real logrotate, in both of its modes, while `steer ship`'s follower
// (querytail) reads it: every RUM query answered reaches the follower
// exactly once, the server writes on into the new file (create mode: it
// reopens the moved path; copytruncate: it appends at the new end), and the
// log stays 0640.
func TestFaultQueryLogRotation(t *testing.T) {
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/logrotate"); err != nil {
			t.Skip("logrotate is not installed (make test-deps installs it as root)")
		}
	}
	for _, mode := range []string{"create", "copytruncate"} {
		t.Run(mode, func(t *testing.T) {
			s := startSteer(t, nil)
			logPath := s.cfg.QueryLog
			conf := filepath.Join(s.dir, "logrotate.conf")
			if err := os.WriteFile(conf, fmt.Appendf(nil, "%s {\n\t%s\n\trotate 3\n\tmissingok\n}\n", logPath, mode), 0o644); err != nil {
				t.Fatal(err)
			}
			var got []string
			tail := &querytail.Tail{Files: []string{logPath}, Dir: t.TempDir(), Batch: 100,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Add: func(_ context.Context, qs []rum.LogEntry) error {
					for _, q := range qs {
						got = append(got, q.QName)
					}
					return nil
				}}
			pos := tail.Load()
			follow := func() {
				t.Helper()
				tail.PollAll(context.Background(), pos, func(f string, err error) { t.Errorf("follower: %s: %v", f, err) })
			}
			var sent []string
			send := func(n int) {
				t.Helper()
				for range n {
					name := strings.ToLower(randLabel()) + ".rum.example.net."
					r, err := query(s.addr, netip.Addr{}, name, dns.TypeA, netip.Prefix{}, 2*time.Second)
					if err != nil || r.Rcode != dns.RcodeSuccess {
						t.Fatalf("query %s: %v %v", name, r, err)
					}
					sent = append(sent, name)
				}
			}
			// inFile waits until the server has flushed every line sent so far
			// into the files the follower can see.
			flushed := func() {
				t.Helper()
				eventually(t, 10*time.Second, "the server to flush the query log", func() bool {
					n := 0
					for _, f := range []string{logPath, logPath + ".1", logPath + ".2"} {
						b, _ := os.ReadFile(f)
						n += strings.Count(string(b), "\n")
					}
					return n >= len(sent)
				})
			}
			send(50)
			flushed()
			follow() // part read before the rotation …
			send(30) // … part not
			flushed()
			rotate := exec.Command(bin, "-f", "-s", filepath.Join(s.dir, "logrotate.state"), conf)
			if out, err := rotate.CombinedOutput(); err != nil {
				t.Fatalf("logrotate: %v\n%s", err, out)
			}
			if _, err := os.Stat(logPath + ".1"); err != nil {
				t.Fatalf("logrotate left no %s.1: %v", logPath, err)
			}
			// The server writes on into the file at the log's path.
			before := len(sent)
			defer func() {
				if t.Failed() {
					for _, f := range []string{logPath, logPath + ".1"} {
						b, _ := os.ReadFile(f)
						fi, _ := os.Stat(f)
						t.Logf("%s (%v): %d bytes, %q…", f, fi.Mode(), len(b), tailString(string(b), 300))
					}
				}
			}()
			// Queries go on; those before the server notices the rotation
			// (within a second) land in the rotated file, later ones in the
			// new one.
			eventually(t, 10*time.Second, "new queries to land in the file at the log's path", func() bool {
				send(5)
				fi, err := os.Stat(logPath)
				return err == nil && fi.Size() > 0
			})
			if mode == "create" {
				if v := s.metrics(t).sum("steer_dns_querylog_reopened_total", map[string]string{"reason": "moved"}); v < 1 {
					t.Errorf("steer_dns_querylog_reopened_total{reason=moved} = %v after logrotate moved the log", v)
				}
			}
			flushed()
			follow()
			t.Logf("%d queries, %d after the rotation", len(sent), len(sent)-before)
			g := slices.Clone(got)
			slices.Sort(g)
			w := slices.Clone(sent)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("the follower handed on %d lines for %d queries (duplicates or losses)", len(g), len(w))
				for _, n := range w {
					if _, ok := slices.BinarySearch(g, n); !ok {
						t.Errorf("lost: %s", n)
						break
					}
				}
			}
			fi, err := os.Stat(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if mode == "create" && fi.Mode().Perm()&0o007 != 0 {
				t.Errorf("%s is %v: world-accessible", logPath, fi.Mode().Perm())
			}
		})
	}
}

// TestFaultQueryLogMode: the server creates its query log 0640: it names
// the resolvers that asked.
func TestFaultQueryLogMode(t *testing.T) {
	s := startSteer(t, nil)
	if _, err := query(s.addr, netip.Addr{}, "mode.rum.example.net.", dns.TypeA, netip.Prefix{}, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.cfg.QueryLog)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("query log mode %v, want 0640", fi.Mode().Perm())
	}
}
