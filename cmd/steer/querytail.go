package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// queryTail follows DNS query logs (the DNS server's query_log NDJSON)
// and hands their lines, in batches, to add: into the store while the
// collector runs (the collector holds the store's write lock, so `steer
// ingest` cannot load them meanwhile), or over HTTP to a collector
// (steer ship).
//
// Each file's position (device, inode, offset of the last whole line
// handed on) is kept in DIR/querylog-positions.json, written and fsynced
// after add returned for the lines before it: a crash between the two
// hands those lines on again on restart (at least once); the builder's
// first-query-wins join counts such repeats and is not misled by them. When
// add fails, the position stays and the next poll retries from it. A file
// replaced (rotation: another inode) or cut shorter than the position is
// read from its start.
type queryTail struct {
	files []string
	every time.Duration
	dir   string // where the positions file lives
	add   func(context.Context, []rum.LogEntry) error
	batch int // lines a call of add (default tailBatch)
	log   *slog.Logger
}

// tailPos is where reading a file stopped.
type tailPos struct {
	Dev    uint64 `json:"dev"`
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

const tailBatch = 8192 // lines a store transaction

func (q *queryTail) positionsFile() string { return filepath.Join(q.dir, "querylog-positions.json") }

func (q *queryTail) load() map[string]tailPos {
	pos := map[string]tailPos{}
	b, err := os.ReadFile(q.positionsFile())
	if err == nil {
		if err := json.Unmarshal(b, &pos); err != nil {
			q.log.Warn("query log positions unreadable: reading the logs from their start", "file", q.positionsFile(), "error", err)
			pos = map[string]tailPos{}
		}
	}
	return pos
}

func (q *queryTail) save(pos map[string]tailPos) error {
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	return writeFileAtomic(q.positionsFile(), func(w io.Writer) error { _, err := w.Write(b); return err })
}

func (q *queryTail) run(ctx context.Context) {
	if q.batch <= 0 {
		q.batch = tailBatch
	}
	pos := q.load()
	t := time.NewTimer(q.every)
	defer t.Stop()
	failures := 0
	for {
		failed := q.pollAll(ctx, pos, func(f string, err error) {
			if ctx.Err() == nil {
				q.log.Error("query log", "file", f, "error", err, "retry in", backoff(q.every, failures+1))
			}
		})
		if failed {
			failures++
		} else {
			failures = 0
		}
		t.Reset(backoff(q.every, failures))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollAll polls every file once, reporting each failure; it returns
// whether any failed.
func (q *queryTail) pollAll(ctx context.Context, pos map[string]tailPos, report func(file string, err error)) (failed bool) {
	for _, f := range q.files {
		if err := q.poll(ctx, f, pos); err != nil {
			report(f, err)
			failed = true
		}
	}
	return failed
}

// backoff is the wait before the next poll after failures failed polls in
// a row: every, doubled for each failure, at most a minute (or every, when
// that is longer), so a collector that is down is not asked every second.
func backoff(every time.Duration, failures int) time.Duration {
	d := every
	for range min(failures, 16) {
		d *= 2
	}
	return max(min(d, time.Minute), every)
}

// poll loads the whole lines appended to path since its position.
func (q *queryTail) poll(ctx context.Context, path string, pos map[string]tailPos) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // not written yet
	}
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	p := pos[path]
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		dev, ino := uint64(st.Dev), st.Ino //nolint:unconvert // Dev is not uint64 on every platform
		if dev != p.Dev || ino != p.Inode || fi.Size() < p.Offset {
			p = tailPos{Dev: dev, Inode: ino} // a new file: from its start
		}
	}
	if fi.Size() == p.Offset {
		return nil
	}
	if _, err := f.Seek(p.Offset, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	var pending []byte
	var batch []rum.LogEntry
	bad := 0
	flush := func(upTo int64) error {
		if len(batch) > 0 {
			if err := q.add(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		p.Offset = upTo
		pos[path] = p
		return q.save(pos)
	}
	off := p.Offset
	for {
		n, rerr := f.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			off += int64(i + 1)
			pending = pending[i+1:]
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var e rum.LogEntry
			if err := rum.ParseLogEntry(line, &e); err != nil {
				bad++
				if bad <= 3 {
					q.log.Warn("query log: bad line skipped", "file", path, "offset", off-int64(i+1), "error", err)
				}
				continue
			}
			batch = append(batch, e)
			if len(batch) >= q.batch {
				if err := flush(off); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF || n == 0 {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	// a last line without its newline is being written: it waits
	if err := flush(off); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d bad lines skipped", bad)
	}
	return nil
}
