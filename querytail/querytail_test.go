package querytail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// logLine is query log line i: its qname carries i, so the lines handed on
// can be told apart.
func logLine(i int) string {
	return fmt.Sprintf(`{"ts":"2026-12-07T07:00:00.000Z","qname":"q%08d.rum.example.net.","qtype":"A","resolver":"198.51.100.0","pop":"fra","source":"ecs"}`+"\n", i)
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		if _, err := io.WriteString(f, logLine(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// collector records the lines a Tail hands on.
type collector struct{ got []string }

func (c *collector) add(_ context.Context, qs []rum.LogEntry) error {
	for _, q := range qs {
		c.got = append(c.got, q.QName)
	}
	return nil
}

// want is the qnames of lines from..to-1.
func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("q%08d.rum.example.net.", i))
	}
	return out
}

func newTail(t *testing.T, dir, logPath string, c *collector) *Tail {
	t.Helper()
	return &Tail{Files: []string{logPath}, Dir: dir, Add: c.add, Batch: 3, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func poll(t *testing.T, q *Tail, pos Positions) {
	t.Helper()
	if q.PollAll(context.Background(), pos, func(f string, err error) { t.Errorf("%s: %v", f, err) }) {
		t.FailNow()
	}
}

func check(t *testing.T, c *collector, w []string) {
	t.Helper()
	got := slices.Clone(c.got)
	slices.Sort(got)
	if !slices.Equal(got, w) {
		t.Fatalf("lines handed on:\n got %d %v\nwant %d %v", len(got), got, len(w), w)
	}
}

func TestTailHalfLineWaits(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "q.ndjson")
	var c collector
	q := newTail(t, dir, logPath, &c)
	pos := q.Load()
	poll(t, q, pos) // no file yet: nothing, no error
	appendLines(t, logPath, 0, 5)
	half := logLine(5)
	f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = io.WriteString(f, half[:20])
	poll(t, q, pos)
	check(t, &c, want(0, 5))
	_, _ = io.WriteString(f, half[20:])
	_ = f.Close()
	poll(t, q, pos)
	check(t, &c, want(0, 6))
}

// TestTailMoveAndCreate is logrotate's default (create) mode and the DNS
// server's own size rotation: the file is renamed, its writer goes on
// appending to it until it notices, and a new file starts.
func TestTailMoveAndCreate(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "q.ndjson")
	var c collector
	q := newTail(t, dir, logPath, &c)
	pos := q.Load()
	appendLines(t, logPath, 0, 10)
	poll(t, q, pos)
	appendLines(t, logPath, 10, 12) // not yet read when the file moves
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	poll(t, q, pos) // moved, not recreated yet
	check(t, &c, want(0, 12))
	appendLines(t, logPath+".1", 12, 14) // the writer has not noticed yet
	appendLines(t, logPath, 14, 16)      // the new file
	poll(t, q, pos)
	check(t, &c, want(0, 16))
	appendLines(t, logPath+".1", 16, 17) // a last late line
	poll(t, q, pos)
	check(t, &c, want(0, 17))
	if n := len(pos[logPath].Prev); n != 1 {
		t.Fatalf("%d rotated files followed, want 1 (its last write is recent)", n)
	}
	q.RotateWait = time.Nanosecond // the rotated file has been idle long enough
	poll(t, q, pos)
	if n := len(pos[logPath].Prev); n != 0 {
		t.Errorf("the idle rotated file is still followed (%d)", n)
	}
	appendLines(t, logPath, 17, 18)
	poll(t, q, pos)
	check(t, &c, want(0, 18))
}

// TestTailRestartAfterRotation: the follower was down while the log was
// rotated; the old file's unread tail is found by its inode.
func TestTailRestartAfterRotation(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "q.ndjson")
	var c collector
	q := newTail(t, dir, logPath, &c)
	appendLines(t, logPath, 0, 10)
	poll(t, q, q.Load())
	appendLines(t, logPath, 10, 13)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, logPath, 13, 15)
	q2 := newTail(t, dir, logPath, &c) // a new process: positions from the file
	poll(t, q2, q2.Load())
	check(t, &c, want(0, 15))
}

// TestTailCopyTruncate: logrotate's copytruncate copies the file away and
// cuts it to 0; the copy, found by the mark, is read from the position.
func TestTailCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "q.ndjson")
	var c collector
	q := newTail(t, dir, logPath, &c)
	pos := q.Load()
	appendLines(t, logPath, 0, 10)
	poll(t, q, pos)
	appendLines(t, logPath, 10, 14)
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath+".1", b, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(logPath, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, logPath, 14, 16)
	poll(t, q, pos)
	check(t, &c, want(0, 16))
	// Copied, truncated and grown back past the position before the next
	// poll: the mark tells.
	appendLines(t, logPath, 16, 20)
	b, err = os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(logPath+".1", logPath+".2"); err != nil { // as logrotate shifts them
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath+".1", b, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(logPath, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, logPath, 100, 100+20) // as many lines as before, and more
	poll(t, q, pos)
	check(t, &c, append(want(0, 20), want(100, 120)...))
	// A truncation with no copy next to it: the new lines still come.
	appendLines(t, logPath, 20, 30)
	poll(t, q, pos)
	if err := os.Truncate(logPath, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, logPath, 30, 31)
	poll(t, q, pos)
	check(t, &c, append(append(want(0, 20), want(20, 31)...), want(100, 120)...))
}

func TestTailFailedAddRetries(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "q.ndjson")
	var c collector
	fail := true
	q := newTail(t, dir, logPath, &c)
	q.Add = func(ctx context.Context, qs []rum.LogEntry) error {
		if fail {
			return fmt.Errorf("collector down")
		}
		return c.add(ctx, qs)
	}
	pos := q.Load()
	appendLines(t, logPath, 0, 5)
	if !q.PollAll(context.Background(), pos, func(string, error) {}) {
		t.Fatal("a failed add was not reported")
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, logPath, 5, 7)
	fail = false
	poll(t, q, pos)
	check(t, &c, want(0, 7))
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		every    time.Duration
		failures int
		want     time.Duration
	}{
		{time.Second, 0, time.Second},
		{time.Second, 1, 2 * time.Second},
		{time.Second, 3, 8 * time.Second},
		{time.Second, 6, time.Minute},
		{time.Second, 1000, time.Minute},
		{2 * time.Minute, 5, 2 * time.Minute},
		{5 * time.Millisecond, 2, 20 * time.Millisecond},
	} {
		if got := Backoff(c.every, c.failures); got != c.want {
			t.Errorf("Backoff(%v, %d) = %v, want %v", c.every, c.failures, got, c.want)
		}
	}
}
