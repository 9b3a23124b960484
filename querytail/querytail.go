// Package querytail follows DNS query logs (the DNS server's query_log
// NDJSON) like tail -F and hands their lines, in batches, to a function:
// into the store while the collector runs, or over HTTP to a collector
// (steer ship, see [Poster]).
//
// Each file's position (device, inode, offset of the last whole line handed
// on, and a mark: the bytes just before that offset) is kept in
// DIR/querylog-positions.json, written and fsynced after the handler
// returned for the lines before it: a crash between the two hands those
// lines on again on restart (at least once); the builder's first-query-wins
// join counts such repeats and is not misled by them. When the handler
// fails, the position stays and the next poll retries from it.
//
// Rotation loses nothing that reached the file:
//   - moved (logrotate's default create mode, or the DNS server's own size
//     rotation to FILE.1): the old file is found again by its inode among
//     FILE's siblings in the same directory and read to its end, and it is
//     followed for [Tail.RotateWait] after its last write, since a writer
//     goes on appending to it until it notices the move; then the new FILE
//     is read from its start. This holds across a restart of the follower
//     too: a saved position whose inode is no longer FILE's is looked for
//     among the siblings.
//   - copied and truncated (copytruncate): FILE shorter than the position;
//     the copy is found among the siblings by the mark and read to its end,
//     then FILE from its start. Lines written between logrotate's copy and
//     its truncation are lost by copytruncate itself (logrotate(8) says so);
//     prefer create mode.
//
// A rotated file compressed at once (logrotate's compress without
// delaycompress) cannot be read back: use delaycompress.
package querytail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/rum"
)

// Tail follows query log files.
type Tail struct {
	Files []string      // the query logs to follow
	Every time.Duration // poll interval (Run)
	Dir   string        // where the positions file lives
	// Add takes a batch of lines; the position advances past them only
	// when it returns nil.
	Add   func(context.Context, []rum.LogEntry) error
	Batch int // lines a call of Add (default DefaultBatch)
	Log   *slog.Logger
	// RotateWait is how long a rotated file is still followed after its
	// last write (default DefaultRotateWait).
	RotateWait time.Duration
}

// Defaults of [Tail].
const (
	DefaultBatch      = 8192
	DefaultRotateWait = 30 * time.Second
	markLen           = 512
)

// Positions is where reading each file stopped, by file name.
type Positions map[string]Pos

// Pos is where reading one file stopped.
type Pos struct {
	Dev    uint64 `json:"dev"`
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
	// Mark is the (up to 512) bytes before Offset, a few whole lines with
	// their times and random names: it recognizes a copy of the file
	// (copytruncate) and a file cut and grown back past Offset.
	Mark []byte `json:"mark,omitempty"`
	// Prev are the files this one replaced (rotated away), oldest first,
	// still read until they stop growing.
	Prev []Pos `json:"prev,omitempty"`
}

func (p *Pos) same(id fileID) bool { return p.Dev == id.dev && p.Inode == id.ino }

// PositionsFile is the positions file of a tail whose Dir is dir.
func PositionsFile(dir string) string { return filepath.Join(dir, "querylog-positions.json") }

// Load reads the saved positions; an unreadable file is logged and the
// logs are read from their start.
func (q *Tail) Load() Positions {
	pos := Positions{}
	b, err := os.ReadFile(PositionsFile(q.Dir))
	if err == nil {
		if err := json.Unmarshal(b, &pos); err != nil {
			q.Log.Warn("query log positions unreadable: reading the logs from their start", "file", PositionsFile(q.Dir), "error", err)
			pos = Positions{}
		}
	}
	return pos
}

func (q *Tail) save(pos Positions) error {
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	return atomicfile.Write(PositionsFile(q.Dir), b, 0o644)
}

// Run polls every file each Every until ctx is done, backing off after
// failures.
func (q *Tail) Run(ctx context.Context) {
	pos := q.Load()
	t := time.NewTimer(q.Every)
	defer t.Stop()
	failures := 0
	for {
		failed := q.PollAll(ctx, pos, func(f string, err error) {
			if ctx.Err() == nil {
				q.Log.Error("query log", "file", f, "error", err, "retry in", Backoff(q.Every, failures+1))
			}
		})
		if failed {
			failures++
		} else {
			failures = 0
		}
		t.Reset(Backoff(q.Every, failures))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PollAll polls every file once, reporting each failure; it returns
// whether any failed.
func (q *Tail) PollAll(ctx context.Context, pos Positions, report func(file string, err error)) (failed bool) {
	for _, f := range q.Files {
		if err := q.poll(ctx, f, pos); err != nil {
			report(f, err)
			failed = true
		}
	}
	return failed
}

// Backoff is the wait before the next poll after failures failed polls in
// a row: every, doubled for each failure, at most a minute (or every, when
// that is longer), so a collector that is down is not asked every second.
func Backoff(every time.Duration, failures int) time.Duration {
	d := every
	for range min(failures, 16) {
		d *= 2
	}
	return max(min(d, time.Minute), every)
}

// fileID is a file's identity and what a poll needs of it.
type fileID struct {
	path     string
	dev, ino uint64
	size     int64
	mod      time.Time
}

func stat(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	dev, ino := devIno(fi)
	return fileID{path: path, dev: dev, ino: ino, size: fi.Size(), mod: fi.ModTime()}, nil
}

// siblings are the files next to path whose names start with its name
// (FILE.1, FILE-20261207, …), compressed ones left out.
func siblings(path string) []fileID {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []fileID
	for _, e := range ents {
		n := e.Name()
		if n == base || !strings.HasPrefix(n, base) || !e.Type().IsRegular() {
			continue
		}
		switch filepath.Ext(n) {
		case ".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z":
			continue
		}
		if id, err := stat(filepath.Join(dir, n)); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// find locates the file p was reading: FILE itself or a sibling.
func find(path string, p *Pos) (fileID, bool) {
	if id, err := stat(path); err == nil && p.same(id) {
		return id, true
	}
	for _, id := range siblings(path) {
		if p.same(id) {
			return id, true
		}
	}
	return fileID{}, false
}

// findCopy locates a sibling holding p's mark just before p.Offset: the
// copy copytruncate made.
func findCopy(path string, p *Pos) (fileID, bool) {
	if len(p.Mark) == 0 {
		return fileID{}, false
	}
	buf := make([]byte, len(p.Mark))
	for _, id := range siblings(path) {
		if id.size < p.Offset {
			continue
		}
		if err := readAt(id.path, buf, p.Offset-int64(len(buf))); err == nil && bytes.Equal(buf, p.Mark) {
			return id, true
		}
	}
	return fileID{}, false
}

// markHolds reports whether the bytes before p.Offset in file id are
// still p's mark (true when there is no mark to check).
func markHolds(id fileID, p *Pos) bool {
	if len(p.Mark) == 0 || p.Offset < int64(len(p.Mark)) || id.size < p.Offset {
		return true
	}
	buf := make([]byte, len(p.Mark))
	if err := readAt(id.path, buf, p.Offset-int64(len(buf))); err != nil {
		return true // unreadable now: the read that follows reports it
	}
	return bytes.Equal(buf, p.Mark)
}

func readAt(path string, buf []byte, off int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	_, err = f.ReadAt(buf, off)
	return err
}

// poll hands on the whole lines appended to path (and to the file it
// replaced) since its position.
func (q *Tail) poll(ctx context.Context, path string, pos Positions) error {
	p := pos[path]
	commit := func() error { pos[path] = p; return q.save(pos) }
	// What the rotated-away files still hold comes first.
	if len(p.Prev) > 0 {
		kept := p.Prev[:0:0]
		for i := range p.Prev {
			prev := p.Prev[i]
			id, ok := find(path, &prev)
			if ok {
				if err := q.read(ctx, id, &prev, func() error {
					p.Prev[i] = prev
					return commit()
				}); err != nil {
					return err // it stays until its lines are handed on
				}
				if time.Since(id.mod) < q.rotateWait() {
					kept = append(kept, prev) // its writer may not have moved on yet
				}
			}
		}
		if len(kept) != len(p.Prev) {
			p.Prev = kept
			if err := commit(); err != nil {
				return err
			}
		}
	}
	cur, err := stat(path)
	if errors.Is(err, os.ErrNotExist) {
		cur = fileID{} // moved and not recreated yet: only Prev can be read
	} else if err != nil {
		return err
	}
	switch {
	case p.Inode == 0 && p.Offset == 0 && cur.ino == 0:
		return nil // not written yet
	case p.Inode != 0 && !p.same(cur):
		// Moved away (or the follower restarts after a rotation): the old
		// file, wherever it went, is followed as Prev.
		prev := p
		prev.Prev = nil
		p = Pos{Dev: cur.dev, Inode: cur.ino, Prev: append(p.Prev, prev)}
		if err := commit(); err != nil {
			return err
		}
		return q.poll(ctx, path, pos)
	case p.Inode == 0 && p.Offset > 0:
		// A positions file from before inodes were kept: start afresh.
		p = Pos{Dev: cur.dev, Inode: cur.ino}
	case cur.size < p.Offset || !markHolds(cur, &p):
		// Cut shorter (copytruncate), or cut and grown back past the
		// position before this poll (the bytes before it changed). The
		// copy, found by the mark, is read to its end first.
		q.Log.Info("query log truncated under us (copytruncate?)", "file", path, "size", cur.size, "position", p.Offset)
		prev := Pos{Offset: p.Offset, Mark: p.Mark}
		p = Pos{Dev: cur.dev, Inode: cur.ino, Prev: p.Prev}
		if id, ok := findCopy(path, &prev); ok {
			prev.Dev, prev.Inode = id.dev, id.ino
			p.Prev = append(p.Prev, prev)
		} else {
			q.Log.Warn("query log: the truncated file's copy was not found next to it; its unread lines are lost", "file", path)
		}
		if err := commit(); err != nil {
			return err
		}
		if len(p.Prev) > 0 {
			return q.poll(ctx, path, pos)
		}
	}
	if cur.ino == 0 {
		return nil
	}
	if !p.same(cur) {
		// A file seen for the first time: its identity is saved before
		// its lines, so that a rotation while they cannot be handed on
		// (collector down) still finds it.
		p.Dev, p.Inode = cur.dev, cur.ino
		if err := commit(); err != nil {
			return err
		}
	}
	return q.read(ctx, cur, &p, commit)
}

func (q *Tail) rotateWait() time.Duration {
	if q.RotateWait > 0 {
		return q.RotateWait
	}
	return DefaultRotateWait
}

// read hands on the whole lines of file id from p.Offset, advancing p and
// calling commit after each batch is taken.
func (q *Tail) read(ctx context.Context, id fileID, p *Pos, commit func() error) error {
	if id.size <= p.Offset {
		return nil
	}
	f, err := os.Open(id.path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	if dev, ino := fdIdentity(f); dev != p.Dev || ino != p.Inode {
		return nil // replaced between stat and open: the next poll sorts it out
	}
	if _, err := f.Seek(p.Offset, io.SeekStart); err != nil {
		return err
	}
	batchMax := q.Batch
	if batchMax <= 0 {
		batchMax = DefaultBatch
	}
	buf := make([]byte, 1<<20)
	var pending []byte
	var batch []rum.LogEntry
	bad := 0
	off := p.Offset
	flush := func(upTo int64) error {
		if len(batch) > 0 {
			if err := q.Add(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if upTo == p.Offset {
			return nil
		}
		p.Offset = upTo
		n := min(upTo, markLen)
		p.Mark = make([]byte, n)
		if _, err := f.ReadAt(p.Mark, upTo-n); err != nil {
			p.Mark = nil
		}
		return commit()
	}
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
					q.Log.Warn("query log: bad line skipped", "file", id.path, "offset", off-int64(i+1), "error", err)
				}
				continue
			}
			batch = append(batch, e)
			if len(batch) >= batchMax {
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
		return fmt.Errorf("%s: %d bad lines skipped", id.path, bad)
	}
	return nil
}

// Poster posts query log lines to a collector's /querylog (NDJSON, all or
// nothing) with a query log token: a [Tail]'s Add for steer ship.
type Poster struct {
	URL, Token string // URL is the collector's …/querylog
	Client     *http.Client

	buf             []byte
	Lines, Requests int // lines and requests the collector took
}

// Post sends qs in one request; any answer but 200 is an error.
func (s *Poster) Post(ctx context.Context, qs []rum.LogEntry) error {
	s.buf = s.buf[:0]
	for i := range qs {
		s.buf = rum.AppendLogEntry(s.buf, &qs[i])
		s.buf = append(s.buf, '\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(s.buf))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("collector %s: %s: %s", s.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	s.Lines += len(qs)
	s.Requests++
	return nil
}
