package dnsserver

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steer-gslb/steer/config"
)

func newTestLogFile(t *testing.T, rot config.QueryLogRotate) (*logFile, *prometheus.CounterVec, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	reopened := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"reason"})
	lf := &logFile{path: filepath.Join(t.TempDir(), "q.ndjson"), rot: rot,
		log: slog.New(slog.NewTextHandler(&logs, nil)), reopened: reopened}
	if err := lf.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lf.close)
	return lf, reopened, &logs
}

func line(i int) []byte {
	return fmt.Appendf(nil, "{\"n\":%d,\"pad\":%q}\n", i, strings.Repeat("x", 40))
}

// lines returns the numbers of the lines in the files, in file order.
func readLines(t *testing.T, files ...string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	return out
}

func TestQueryLogRotatesBySize(t *testing.T) {
	lf, reopened, _ := newTestLogFile(t, config.QueryLogRotate{MaxBytes: 1000, Keep: 2})
	n := 0
	for ; n < 60; n++ { // 60 lines of 62 bytes: 3+ rotations
		lf.write(line(n))
	}
	lf.flush()
	for _, f := range []string{lf.path, lf.path + ".1", lf.path + ".2"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != queryLogMode {
			t.Errorf("%s: mode %v, want %v", f, fi.Mode().Perm(), os.FileMode(queryLogMode))
		}
		if fi.Size() > 1000+62 {
			t.Errorf("%s: %d bytes, over max_bytes 1000 by more than a line", f, fi.Size())
		}
	}
	if _, err := os.Stat(lf.path + ".3"); err == nil {
		t.Errorf("%s.3 exists; keep is 2", lf.path)
	}
	got := readLines(t, lf.path+".2", lf.path+".1", lf.path)
	last := string(bytes.TrimSuffix(line(n-1), []byte("\n")))
	if got[len(got)-1] != last {
		t.Errorf("last line %q, want %q", got[len(got)-1], last)
	}
	// The kept files hold the newest lines, in order, with none missing.
	first := n - len(got)
	for i, l := range got {
		if want := string(bytes.TrimSuffix(line(first+i), []byte("\n"))); l != want {
			t.Fatalf("line %d of the kept files: %q, want %q", i, l, want)
		}
	}
	if r := testutil.ToFloat64(reopened.WithLabelValues("size")); r < 3 {
		t.Errorf("size rotations counted %v, want ≥ 3", r)
	}
}

func TestQueryLogFollowsMoveAndCreate(t *testing.T) {
	lf, reopened, logs := newTestLogFile(t, config.QueryLogRotate{})
	lf.write(line(1))
	lf.flush()
	// logrotate's default mode: rename, then (create) a new empty file.
	if err := os.Rename(lf.path, lf.path+".1"); err != nil {
		t.Fatal(err)
	}
	lf.write(line(2)) // buffered before the writer notices: goes to the moved file
	lf.follow()
	lf.write(line(3))
	lf.flush()
	if got := readLines(t, lf.path+".1"); len(got) != 2 {
		t.Errorf("moved file: %q, want lines 1 and 2", got)
	}
	if got := readLines(t, lf.path); len(got) != 1 || !strings.Contains(got[0], `"n":3`) {
		t.Errorf("new file: %q, want line 3", got)
	}
	if r := testutil.ToFloat64(reopened.WithLabelValues("moved")); r != 1 {
		t.Errorf("moved reopenings %v, want 1", r)
	}
	// Removed outright: recreated.
	if err := os.Remove(lf.path); err != nil {
		t.Fatal(err)
	}
	lf.follow()
	lf.write(line(4))
	lf.flush()
	if got := readLines(t, lf.path); len(got) != 1 || !strings.Contains(got[0], `"n":4`) {
		t.Errorf("recreated file: %q, want line 4", got)
	}
	if !strings.Contains(logs.String(), "query log reopened") {
		t.Errorf("no log line for the reopening: %s", logs)
	}
}

func TestQueryLogCopyTruncate(t *testing.T) {
	lf, _, _ := newTestLogFile(t, config.QueryLogRotate{MaxBytes: 1000, Keep: 1})
	for i := range 10 {
		lf.write(line(i))
	}
	lf.flush()
	// copytruncate: the file is copied away and cut to 0 under the writer.
	if err := os.Truncate(lf.path, 0); err != nil {
		t.Fatal(err)
	}
	lf.follow()
	lf.write(line(10))
	lf.flush()
	b, err := os.ReadFile(lf.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, line(10)) {
		t.Errorf("after copytruncate the file holds %q, want only line 10 at offset 0 (O_APPEND)", b)
	}
	if lf.size != int64(len(b)) {
		t.Errorf("size accounted %d, file has %d: the next size rotation would come early", lf.size, len(b))
	}
}

// flaky fails every write while fail is set, as a full disk does.
type flaky struct {
	w    io.Writer
	fail bool
}

func (f *flaky) Write(p []byte) (int, error) {
	if f.fail {
		return 0, syscall.ENOSPC
	}
	return f.w.Write(p)
}

func TestQueryLogWriteFailureRecovers(t *testing.T) {
	lf, _, logs := newTestLogFile(t, config.QueryLogRotate{})
	disk := &flaky{w: lf.f, fail: true}
	lf.out = disk
	lf.w.Reset(disk)
	for i := range 3 {
		lf.write(line(i))
		lf.flush()
	}
	if c := strings.Count(logs.String(), "query log write failed"); c != 1 {
		t.Errorf("%d error lines for one streak of failures, want 1:\n%s", c, logs)
	}
	disk.fail = false // space again
	lf.write(line(9))
	lf.flush()
	if !strings.Contains(logs.String(), "query log writes again") {
		t.Errorf("recovery not logged:\n%s", logs)
	}
	if got := readLines(t, lf.path); len(got) != 1 || !strings.Contains(got[0], `"n":9`) {
		t.Errorf("after the disk recovered the file holds %q, want line 9", got)
	}
}
