package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The spool is the collector's write-ahead log in front of the store.
//
// An embedded analytics database is fast at large appends and slow at many
// small durable transactions: DuckDB spends ~3 µs per sample row in a
// commit of a hundred beacons, which capped durable HTTP ingest at ~11k
// beacons/s here. So a group of accepted records is appended to a segment
// file and fdatasync'd — that is the acknowledgement — and a loader moves
// the spooled records into the store in large batches (up to LoadBatch,
// at least every LoadInterval), then records how far it got. After a crash
// the loader replays from the recorded position; a beacon loaded twice is
// recognized by the store as a duplicate and stored once.
//
// Beacons and DNS query log lines (POST /querylog) have a spool each: the
// beacon spool in SpoolDir, the query log spool in SpoolDir/querylog. A
// beacon line is "<received unix ms> <beacon JSON>\n", the beacon in the
// bulk format with its client_subnet (already truncated: the spool never
// holds a full client address); a query log line is the DNS server's
// query log line.
//
// Faults:
//
//   - A trailing partial line of the newest segment (a write the crash cut
//     short) was never acknowledged and is cut off on open.
//   - A failed write or fdatasync is cut off the segment (best effort;
//     writes are positional, so the next append overwrites it anyway) and
//     not acknowledged; the next append starts a new segment, so that
//     pages whose write-back failed are never trusted again. On a full
//     disk this also lets the loader delete the old segment once loaded,
//     which frees the space.
//   - A failed rotation (creating the next segment, syncing the directory)
//     leaves the next segment file empty: the next rotation reuses it, and
//     appends continue in the current segment meanwhile.
//   - A line the loader cannot decode (a corrupted segment) is appended to
//     quarantine.ndjson in the spool directory, with its segment and
//     offset, counted and logged; loading continues after it.
type spool struct {
	dir  string
	ops  fileOps
	warn func(op string, err error) // a fault the spool recovered from; may be nil

	// writer side (the commit loop only)
	f     *os.File
	seg   uint64
	off   int64
	fresh bool // start a new segment before the next write

	mu     sync.Mutex
	synced position         // how far segments are durable
	loaded position         // how far the loader has recorded the records as in the store
	ends   map[uint64]int64 // the length of every finished segment
	notify chan struct{}

	qmu sync.Mutex // the quarantine file
}

type position struct {
	seg uint64
	off int64
}

func (p position) less(q position) bool {
	return p.seg < q.seg || p.seg == q.seg && p.off < q.off
}

const (
	progressFile   = "loaded"
	quarantineFile = "quarantine.ndjson"
)

// segmentMax is the size at which the spool starts a new segment (a
// variable for tests).
var segmentMax int64 = 64 << 20

func segName(seg uint64) string { return fmt.Sprintf("%016d.spool", seg) }

// openSpool opens the spool in dir (creating it), cutting off a torn last
// line. ops is the file layer (osOps but in tests).
func openSpool(dir string, ops fileOps) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, ops: ops.withDefaults(), notify: make(chan struct{}, 1), ends: map[uint64]int64{}}
	p, err := s.progress()
	if err != nil {
		return nil, err
	}
	segs, err := s.segments()
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 || p.seg > segs[len(segs)-1] {
		// nothing spooled since the last load (or the segments were
		// removed by hand): start after the recorded position
		segs = append(segs, p.seg+1)
	}
	last := segs[len(segs)-1]
	f, err := s.ops.openFile(filepath.Join(dir, segName(last)), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	end, err := lastLineEnd(f)
	if err == nil {
		if st, serr := f.Stat(); serr != nil {
			err = serr
		} else if st.Size() != end {
			// a torn write: never acknowledged
			err = s.ops.truncate(f, end)
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool: %s: %w", segName(last), err)
	}
	for _, seg := range segs[:len(segs)-1] {
		st, err := os.Stat(filepath.Join(dir, segName(seg)))
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("spool: %w", err)
		}
		s.ends[seg] = st.Size()
	}
	s.f, s.seg, s.off = f, last, end
	s.synced = position{last, end}
	if p.seg < segs[0] {
		p = position{segs[0], 0}
	}
	if s.synced.less(p) {
		// the current segment is shorter than what was recorded as
		// loaded from it (cut by hand): load what is written from now on
		p = s.synced
	}
	s.loaded = p
	if err := s.ops.syncDir(dir); err != nil {
		_ = f.Close()
		return nil, err
	}
	return s, nil
}

// lastLineEnd is the offset just after the last newline of f.
func lastLineEnd(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	for end := st.Size(); end > 0; {
		n := min(end, int64(len(buf)))
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// segments lists the segment numbers present, in order.
func (s *spool) segments() ([]uint64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []uint64
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".spool"); ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// append writes lines (whole, newline-terminated records) and syncs them:
// when it returns nil they are durable, between positions start and end.
// On error nothing of buf is acknowledged.
func (s *spool) append(buf []byte) (start, end position, err error) {
	if s.fresh || s.off >= segmentMax {
		if err := s.rotate(); err != nil {
			s.warned("rotate", err) // appends continue in the current segment
		}
	}
	start = position{s.seg, s.off}
	n, err := s.ops.writeAt(s.f, buf, s.off)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return start, start, s.undo("writing", err)
	}
	if err := s.ops.datasync(s.f); err != nil {
		return start, start, s.undo("syncing", err)
	}
	s.off += int64(len(buf))
	end = position{s.seg, s.off}
	s.mu.Lock()
	s.synced = end
	s.mu.Unlock()
	s.wake()
	return start, end, nil
}

func (s *spool) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// undo cuts a failed append (not acknowledged) off the segment, and has
// the next append start a new segment: after a failed write-back the
// kernel may report later syncs of the same pages as good.
func (s *spool) undo(op string, err error) error {
	s.fresh = true
	if terr := s.ops.truncate(s.f, s.off); terr != nil {
		s.warned("truncate", terr)
	}
	return fmt.Errorf("spool: %s %s: %w", op, segName(s.seg), err)
}

func (s *spool) warned(op string, err error) {
	if s.warn != nil {
		s.warn(op, err)
	}
}

// rotate starts the next segment. It is safe to call again after a
// failure: a next segment left behind by a failed rotation holds nothing
// acknowledged and is reused.
func (s *spool) rotate() error {
	if s.off == 0 {
		// the current segment holds nothing: keep it (a failed first
		// append was cut off it)
		s.fresh = false
		return nil
	}
	f, err := s.ops.openFile(filepath.Join(s.dir, segName(s.seg+1)), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if err := s.ops.truncate(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if err := s.ops.syncDir(s.dir); err != nil {
		_ = f.Close()
		return err
	}
	// the finished segment ends where its acknowledged records end
	if err := s.ops.truncate(s.f, s.off); err != nil {
		s.warned("truncate", err)
	}
	if err := s.f.Close(); err != nil {
		s.warned("close", err)
	}
	s.mu.Lock()
	s.ends[s.seg] = s.off
	s.f, s.seg, s.off, s.fresh = f, s.seg+1, 0, false
	// everything before the new segment is durable: the loader may finish
	// the old one (and delete it) before anything is written to the new
	s.synced = position{s.seg, 0}
	s.mu.Unlock()
	s.wake()
	return nil
}

func (s *spool) durable() position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced
}

// loadedPos is the position recorded as loaded into the store.
func (s *spool) loadedPos() position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

// backlog is the size of the acknowledged records not yet recorded as
// loaded into the store, in bytes.
func (s *spool) backlog() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, b := s.loaded, s.synced
	if !a.less(b) {
		return 0
	}
	if a.seg == b.seg {
		return b.off - a.off
	}
	n := s.ends[a.seg] - a.off + b.off
	for seg := a.seg + 1; seg < b.seg; seg++ {
		n += s.ends[seg]
	}
	return n
}

// segEnd is the length of a finished segment.
func (s *spool) segEnd(seg uint64) (int64, error) {
	s.mu.Lock()
	n, ok := s.ends[seg]
	s.mu.Unlock()
	if ok {
		return n, nil
	}
	st, err := os.Stat(filepath.Join(s.dir, segName(seg)))
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	return st.Size(), nil
}

func (s *spool) close() error { return s.f.Close() }

// progress is how far the loader has moved records into the store.
func (s *spool) progress() (position, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, progressFile))
	if errors.Is(err, os.ErrNotExist) {
		return position{}, nil
	}
	if err != nil {
		return position{}, fmt.Errorf("spool: %w", err)
	}
	var p position
	if _, err := fmt.Sscanf(string(b), "%d %d", &p.seg, &p.off); err != nil {
		return position{}, fmt.Errorf("spool: %s: %q is not \"segment offset\"", filepath.Join(s.dir, progressFile), strings.TrimSpace(string(b)))
	}
	return p, nil
}

// setProgress records that everything before p is in the store.
func (s *spool) setProgress(p position) error {
	tmp := filepath.Join(s.dir, progressFile+".tmp")
	f, err := s.ops.openFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: recording the load position: %w", err)
	}
	b := fmt.Appendf(nil, "%d %d\n", p.seg, p.off)
	n, err := s.ops.writeAt(f, b, 0)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = s.ops.datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.ops.rename(tmp, filepath.Join(s.dir, progressFile))
	}
	if err == nil {
		err = s.ops.syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("spool: recording the load position: %w", err)
	}
	s.mu.Lock()
	s.loaded = p
	s.mu.Unlock()
	return nil
}

// removeBefore deletes the segments wholly before p: they are in the
// store. That is safe even when the position could not be recorded: on
// open the loader starts at the oldest segment left.
func (s *spool) removeBefore(p position) error {
	segs, err := s.segments()
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if seg >= p.seg {
			break
		}
		if err := s.ops.remove(filepath.Join(s.dir, segName(seg))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("spool: %w", err)
		}
		s.mu.Lock()
		delete(s.ends, seg)
		if s.loaded.less(position{seg + 1, 0}) {
			s.loaded = position{seg + 1, 0}
		}
		s.mu.Unlock()
	}
	return nil
}

func (s *spool) readAt(seg uint64, buf []byte, off int64) error {
	f, err := os.Open(filepath.Join(s.dir, segName(seg)))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_, err = f.ReadAt(buf, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// quarantineMax bounds the bytes of one quarantined line kept in the
// quarantine file (a valid line is far shorter).
const quarantineMax = 64 << 10

// quarantine appends an undecodable line to the quarantine file, synced,
// with where it was and why it was refused (reason must not hold a client
// address: callers pass it through Redact).
func (s *spool) quarantine(at position, line []byte, reason string) error {
	rec := struct {
		Time    string `json:"time"`
		Segment uint64 `json:"segment"`
		Offset  int64  `json:"offset"`
		Length  int    `json:"length"`
		Error   string `json:"error"`
		Line    string `json:"line"`
	}{time.Now().UTC().Format(time.RFC3339Nano), at.seg, at.off, len(line), reason, string(line[:min(len(line), quarantineMax)])}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	b = append(b, '\n')
	s.qmu.Lock()
	defer s.qmu.Unlock()
	path := filepath.Join(s.dir, quarantineFile)
	f, err := s.ops.openFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		var n int
		n, err = s.ops.writeAt(f, b, st.Size())
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			_ = s.ops.truncate(f, st.Size())
		}
	}
	if err == nil {
		err = s.ops.datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && st.Size() == 0 {
		err = s.ops.syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	return nil
}
