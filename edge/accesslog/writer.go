package accesslog

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// FileMode is the access log's permission: it names client networks and
// paths, so it is not world-readable.
const FileMode = 0o640

// Options configure a Writer. The zero value writes without rotation.
type Options struct {
	// MaxBytes rotates the file when it passes this size: FILE becomes
	// FILE.1 (FILE.1 FILE.2, …, the oldest beyond Keep removed) and a new
	// FILE is started. 0 leaves rotation to logrotate: the Writer notices
	// a moved or removed file within FlushEvery and reopens its path.
	MaxBytes int64
	// Keep is how many rotated files are kept (default 4).
	Keep int
	// FlushEvery is the longest a line stays buffered (default 1 s).
	FlushEvery time.Duration
	// BufferSize is the write buffer (default 64 KiB): a full buffer is
	// written at once, on the request path.
	BufferSize int
	// Log reports write failures (default slog.Default()).
	Log *slog.Logger
}

// Writer appends access-log lines to a file. It is safe for concurrent
// use; Write formats the line into the buffer under a mutex, allocating
// nothing. A goroutine flushes the buffer every FlushEvery and reopens the
// path when the file was moved (logrotate) or removed.
type Writer struct {
	opt  Options
	path string

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	size    int64 // bytes in the file, buffered ones included
	line    []byte
	failed  bool
	closed  bool
	lines   uint64
	reopens uint64

	stop chan struct{}
	done chan struct{}
}

// Open opens (creating it 0640 if needed) the access log at path for
// appending and starts its flusher.
func Open(path string, opt Options) (*Writer, error) {
	if path == "" {
		return nil, errors.New("access log: no path")
	}
	if opt.Keep <= 0 {
		opt.Keep = 4
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = time.Second
	}
	if opt.BufferSize <= 0 {
		opt.BufferSize = 64 << 10
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.MaxBytes < 0 {
		return nil, fmt.Errorf("access log: max bytes %d is negative", opt.MaxBytes)
	}
	w := &Writer{opt: opt, path: path, line: make([]byte, 0, 2048), stop: make(chan struct{}), done: make(chan struct{})}
	if err := w.open(); err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	go w.run()
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, FileMode)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	if w.w == nil {
		w.w = bufio.NewWriterSize(f, w.opt.BufferSize)
	} else {
		w.w.Reset(f)
	}
	return nil
}

// Write appends e's line (AppendLine: the client address truncated to its
// network, the path without query). After Close it does nothing.
func (w *Writer) Write(e *Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.line = AppendLine(w.line[:0], e)
	n, err := w.w.Write(w.line)
	w.size += int64(n)
	w.lines++
	if err != nil {
		w.report(err)
	}
	if w.opt.MaxBytes > 0 && w.size >= w.opt.MaxBytes {
		w.rotate()
	}
}

// Lines is the number of lines written (buffered included).
func (w *Writer) Lines() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}

// Flush writes the buffered lines to the file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	err := w.w.Flush()
	w.report(err)
	return err
}

// Reopen flushes and reopens the path (for SIGHUP after an external move).
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("access log: closed")
	}
	return w.reopen("reopen")
}

// Close flushes the buffer, closes the file and stops the flusher.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			if !w.closed {
				w.report(w.w.Flush())
				w.follow()
			}
			w.mu.Unlock()
		}
	}
}

// report logs the first error of a streak and the recovery.
func (w *Writer) report(err error) {
	if err != nil {
		// bufio.Writer keeps its first error for good: start afresh so the
		// log recovers when the disk does (the buffered lines are lost).
		w.w.Reset(w.f)
	}
	switch {
	case err != nil && !w.failed:
		w.failed = true
		w.opt.Log.Error("access log write failed; lines are lost until it recovers", "file", w.path, "err", err)
	case err == nil && w.failed:
		w.failed = false
		w.opt.Log.Info("access log writes again", "file", w.path)
	}
}

// rotate renames FILE to FILE.1 (shifting older ones) and starts a new FILE.
func (w *Writer) rotate() {
	w.report(w.w.Flush())
	for i := w.opt.Keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", w.path, i), fmt.Sprintf("%s.%d", w.path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.opt.Log.Warn("access log rotation", "err", err)
		}
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		w.opt.Log.Error("access log rotation failed; still writing the current file", "file", w.path, "err", err)
		w.size = 0 // try again after another MaxBytes
		return
	}
	_ = w.reopen("size")
}

// follow reopens the path when it no longer names the open file.
func (w *Writer) follow() {
	cur, err := w.f.Stat()
	if err != nil {
		return
	}
	if fi, err := os.Stat(w.path); err == nil && os.SameFile(fi, cur) {
		return
	}
	_ = w.reopen("moved")
}

func (w *Writer) reopen(reason string) error {
	w.report(w.w.Flush())
	old := w.f
	if err := w.open(); err != nil {
		w.f = old
		w.opt.Log.Error("access log reopen failed; still writing the old file", "file", w.path, "err", err)
		return fmt.Errorf("access log: %w", err)
	}
	_ = old.Close()
	w.reopens++
	w.opt.Log.Info("access log reopened", "file", w.path, "reason", reason)
	return nil
}
