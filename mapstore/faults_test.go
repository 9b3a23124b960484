package mapstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/steer-gslb/steer/popmap"
)

// counting wraps ops so that the call numbered failAt (1-based, 0 = none)
// fails with err (a write writes half its bytes first, as a filling disk
// does); calls counts every call.
func counting(failAt int, err error, calls *int, names *[]string) fileOps {
	o := osOps
	hit := func(name string) bool {
		*calls++
		if names != nil {
			*names = append(*names, name)
		}
		return *calls == failAt
	}
	return fileOps{
		createTemp: func(dir, pattern string) (*os.File, error) {
			if hit("createTemp") {
				return nil, err
			}
			return o.createTemp(dir, pattern)
		},
		openFile: func(name string, flag int, perm fs.FileMode) (*os.File, error) {
			if hit("openFile " + filepath.Base(name)) {
				return nil, err
			}
			return o.openFile(name, flag, perm)
		},
		write: func(f *os.File, b []byte) (int, error) {
			if hit("write " + filepath.Base(f.Name())) {
				n, _ := f.Write(b[:len(b)/2])
				return n, err
			}
			return o.write(f, b)
		},
		sync: func(f *os.File) error {
			if hit("sync " + filepath.Base(f.Name())) {
				return err
			}
			return o.sync(f)
		},
		truncate: func(f *os.File, size int64) error {
			if hit("truncate") {
				return err
			}
			return o.truncate(f, size)
		},
		rename: func(a, b string) error {
			if hit("rename " + filepath.Base(b)) {
				return err
			}
			return o.rename(a, b)
		},
		remove: func(name string) error {
			if hit("remove " + filepath.Base(name)) {
				return err
			}
			return o.remove(name)
		},
		symlink: func(a, b string) error {
			if hit("symlink") {
				return err
			}
			return o.symlink(a, b)
		},
		syncDir: func(dir string) error {
			if hit("syncDir " + filepath.Base(dir)) {
				return err
			}
			return o.syncDir(dir)
		},
	}
}

// TestFaultPublishEveryStep fails each file operation of a publish in
// turn (EIO, and ENOSPC with a half-done write) and checks the outcome an
// operator needs: the publish reports the error, the current version is the
// old one and whole, history still reads, and once the fault clears the
// next publish, a rollback and a reopen work.
func TestFaultPublishEveryStep(t *testing.T) {
	// One clean publish counts the steps.
	var steps int
	var names []string
	{
		root := t.TempDir()
		d, err := Open(filepath.Join(root, "maps"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Publish(writeCandidate(t, root, testMap(1, "fra")), PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		d.ops = counting(0, nil, &steps, &names)
		if _, err := d.Publish(writeCandidate(t, root, testMap(1, "ams")), PublishOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	if steps < 8 {
		t.Fatalf("a publish made %d file operations (%v); the layer misses some", steps, names)
	}
	t.Logf("a publish's file operations: %s", strings.Join(names, ", "))
	for _, fault := range []error{syscall.EIO, syscall.ENOSPC} {
		for k := 1; k <= steps; k++ {
			t.Run(fmt.Sprintf("%v/%d-%s", fault, k, strings.Fields(names[k-1])[0]), func(t *testing.T) {
				root := t.TempDir()
				d, err := Open(filepath.Join(root, "maps"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := d.Publish(writeCandidate(t, root, testMap(1, "fra")), PublishOptions{}); err != nil {
					t.Fatal(err)
				}
				var calls int
				d.ops = counting(k, fault, &calls, nil)
				res, err := d.Publish(writeCandidate(t, root, testMap(1, "ams")), PublishOptions{Force: true})
				d.ops = osOps
				cur, curPath, cerr := d.Current()
				if cerr != nil {
					t.Fatalf("after the fault, current: %v", cerr)
				}
				switch {
				case err != nil:
					if !errors.Is(err, fault) {
						t.Errorf("publish error %q does not carry the fault %v", err, fault)
					}
					if cur != 1 && !isSyncStep(names[k-1]) {
						t.Errorf("failed publish left version %d current, want 1", cur)
					}
				case res.Version == 0:
					t.Fatalf("publish reported success without a version: %+v", res)
				}
				// Whatever is current is whole and parses.
				if _, err := popmap.ReadFile(curPath); err != nil {
					t.Errorf("current version %d: %v", cur, err)
				}
				if _, err := d.History(); err != nil {
					t.Errorf("history: %v", err)
				}
				// The fault cleared: reopen, publish, roll back.
				d2, err := Open(d.Path())
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				res, err = d2.Publish(writeCandidate(t, root, testMap(1, "lhr")), PublishOptions{Force: true})
				if err != nil {
					t.Fatalf("publish after the fault cleared: %v", err)
				}
				if got, _, _ := d2.Current(); got != res.Version {
					t.Errorf("current %d after publishing %d", got, res.Version)
				}
				if _, err := d2.Rollback(); err != nil {
					t.Errorf("rollback after the fault: %v", err)
				}
				stale, _ := filepath.Glob(filepath.Join(d.Path(), versionsDir, tmpPattern))
				if len(stale) > 0 {
					t.Errorf("temporary files left behind: %v", stale)
				}
			})
		}
	}
}

// isSyncStep: a failed fsync after the rename that switched current.json
// reports the error although the switch may have happened (it is not known
// to be durable).
func isSyncStep(name string) bool { return strings.HasPrefix(name, "syncDir") }
