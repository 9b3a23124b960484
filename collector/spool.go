package collector

import (
	"bytes"
	"context"
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

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// The spool is the collector's write-ahead log in front of the store.
//
// An embedded analytics database is fast at large appends and slow at many
// small durable transactions: DuckDB spends ~3 µs per sample row in a
// commit of a hundred beacons, which capped durable HTTP ingest at ~11k
// beacons/s here. So a group of accepted beacons is appended to a segment
// file and fdatasync'd — that is the acknowledgement — and a loader moves
// the spooled beacons into the store in large batches (up to LoadBatch
// beacons, at least every LoadInterval), then records how far it got. After
// a crash the loader replays from the recorded position; a beacon loaded
// twice is recognized by the store as a duplicate and stored once.
//
// A segment line is "<received unix ms> <beacon JSON>\n", the beacon in the
// bulk format with its client_subnet (already truncated: the spool never
// holds a full client address). A trailing partial line (a write the crash
// cut short) was never acknowledged and is dropped on open.
type spool struct {
	dir string

	// writer side (the commit loop only)
	f   *os.File
	seg uint64
	off int64
	buf []byte

	mu     sync.Mutex
	synced position // how far segments are durable
	notify chan struct{}
}

type position struct {
	seg uint64
	off int64
}

func (p position) less(q position) bool {
	return p.seg < q.seg || p.seg == q.seg && p.off < q.off
}

const progressFile = "loaded"

// segmentMax is the size at which the spool starts a new segment (a
// variable for tests).
var segmentMax int64 = 64 << 20

func segName(seg uint64) string { return fmt.Sprintf("%016d.spool", seg) }

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, notify: make(chan struct{}, 1)}
	segs, err := s.segments()
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		p, err := s.progress()
		if err != nil {
			return nil, err
		}
		segs = []uint64{p.seg + 1}
	}
	last := segs[len(segs)-1]
	f, err := os.OpenFile(filepath.Join(dir, segName(last)), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	// drop a trailing partial line: it was never acknowledged
	data, err := io.ReadAll(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	end := int64(bytes.LastIndexByte(data, '\n') + 1)
	if end != int64(len(data)) {
		if err := f.Truncate(end); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.f, s.seg, s.off = f, last, end
	s.synced = position{last, end}
	return s, syncDir(dir)
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

// append writes a group of beacons and syncs it: when it returns nil they
// are durable, between positions start and end.
func (s *spool) append(bs []store.Beacon) (start, end position, err error) {
	start = position{s.seg, s.off}
	s.buf = s.buf[:0]
	for i := range bs {
		s.buf = strconv.AppendInt(s.buf, bs[i].Received.UnixMilli(), 10)
		s.buf = append(s.buf, ' ')
		s.buf = rum.AppendBeacon(s.buf, &bs[i].Beacon)
		s.buf = append(s.buf, '\n')
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return start, end, s.undo(err)
	}
	if err := fdatasync(s.f); err != nil {
		return start, end, s.undo(err)
	}
	s.off += int64(len(s.buf))
	end = position{s.seg, s.off}
	if s.off >= segmentMax {
		if err := s.rotate(); err != nil {
			return start, end, err
		}
	}
	s.mu.Lock()
	s.synced = position{s.seg, s.off}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return start, end, nil
}

// undo cuts a failed append (not acknowledged) off the segment, so the
// next append does not follow half a line.
func (s *spool) undo(err error) error {
	if terr := s.f.Truncate(s.off); terr != nil {
		err = errors.Join(err, terr)
	} else if _, serr := s.f.Seek(s.off, io.SeekStart); serr != nil {
		err = errors.Join(err, serr)
	}
	return fmt.Errorf("spool: %w", err)
}

func (s *spool) rotate() error {
	f, err := os.OpenFile(filepath.Join(s.dir, segName(s.seg+1)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		return err
	}
	old := s.f
	s.f, s.seg, s.off = f, s.seg+1, 0
	return old.Close()
}

func (s *spool) durable() position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced
}

func (s *spool) close() error { return s.f.Close() }

// progress is how far the loader has moved beacons into the store.
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
		return position{}, fmt.Errorf("spool: %s: %q is not \"segment offset\"", progressFile, strings.TrimSpace(string(b)))
	}
	return p, nil
}

func (s *spool) setProgress(p position) error {
	tmp := filepath.Join(s.dir, progressFile+".tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", p.seg, p.off), 0o600); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = errors.Join(f.Sync(), f.Close())
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, progressFile))
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: syncing %s: %w", dir, err)
	}
	return nil
}

// loader moves spooled beacons into the store. Beacons the commit loop has
// just spooled also arrive in memory (mem), so that in steady state the
// loader does not parse them again; it reads the segment files only after
// a restart or when it fell behind and the in-memory queue overflowed.
type loader struct {
	sp       *spool
	mem      chan memBatch
	st       store.Store
	batch    int
	interval time.Duration
	onLoad   func(res store.AddResult, beacons, samples int, err error)
	backlog  func(bytes int64)
}

// run loads until stop is closed and everything durable is loaded (or the
// store fails at stop).
func (l *loader) run(stop <-chan struct{}) error {
	read, err := l.sp.progress()
	if err != nil {
		return err
	}
	if segs, err := l.sp.segments(); err != nil {
		return err
	} else if len(segs) > 0 && read.seg < segs[0] {
		read = position{segs[0], 0}
	}
	var pending []store.Beacon
	var chunk []byte
	var next *memBatch
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	stopping := false
	for {
		end := l.sp.durable()
		for read.less(end) && len(pending) < l.batch {
			if next != nil && !read.less(next.start) {
				used := read == next.start
				if used {
					pending = append(pending, next.beacons...)
					read = next.end
				}
				next = nil // used, or already read from the files
				if used {
					continue
				}
			}
			if next == nil {
				select {
				case m := <-l.mem:
					next = &m
					continue
				default:
				}
			}
			segEnd := end.off
			if read.seg < end.seg {
				st, err := os.Stat(filepath.Join(l.sp.dir, segName(read.seg)))
				if err != nil {
					return fmt.Errorf("spool: %w", err)
				}
				segEnd = st.Size() // a finished segment does not grow
			}
			if next != nil && next.start.seg == read.seg {
				segEnd = next.start.off // the files only up to where memory takes over
			}
			if read.off >= segEnd {
				read = position{read.seg + 1, 0}
				continue
			}
			n := min(segEnd-read.off, 4<<20)
			chunk = slices.Grow(chunk[:0], int(n))[:n]
			if err := readAt(filepath.Join(l.sp.dir, segName(read.seg)), chunk, read.off); err != nil {
				return err
			}
			for len(chunk) > 0 && len(pending) < l.batch {
				i := bytes.IndexByte(chunk, '\n')
				if i < 0 {
					if n == segEnd-read.off {
						return fmt.Errorf("spool: segment %d offset %d: a durable line without its newline", read.seg, read.off)
					}
					break // the line continues in the next chunk
				}
				b, err := decodeLine(chunk[:i+1])
				if err != nil {
					return fmt.Errorf("spool: segment %d offset %d: %w", read.seg, read.off, err)
				}
				pending = append(pending, b)
				read.off += int64(i + 1)
				chunk = chunk[i+1:]
			}
		}
		if l.backlog != nil {
			l.backlog(l.distance(read, end))
		}
		if len(pending) > 0 && (len(pending) >= l.batch || stopping || !read.less(end)) {
			if err := l.flush(pending, read); err != nil {
				if stopping {
					return err
				}
				// the beacons stay pending: the next round retries
			} else {
				pending = pending[:0]
				if read.less(end) {
					continue
				}
			}
		}
		if stopping && len(pending) == 0 && !read.less(l.sp.durable()) {
			return nil
		}
		select {
		case <-l.sp.notify:
			// a little more time, so that loads are large
			select {
			case <-tick.C:
			case <-stop:
				stopping = true
			}
		case <-tick.C:
		case <-stop:
			stopping = true
		}
	}
}

// memBatch is a group of beacons as spooled between start and end.
type memBatch struct {
	start, end position
	beacons    []store.Beacon
}

func readAt(path string, buf []byte, off int64) error {
	f, err := os.Open(path)
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

// distance is a rough backlog in bytes.
func (l *loader) distance(a, b position) int64 {
	if a.seg == b.seg {
		return b.off - a.off
	}
	return int64(b.seg-a.seg)*segmentMax + b.off - a.off
}

func (l *loader) flush(bs []store.Beacon, to position) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitDeadline)
	res, err := l.st.AddBeacons(ctx, bs)
	cancel()
	n := 0
	for i := range bs {
		n += len(bs[i].Samples)
	}
	if l.onLoad != nil {
		l.onLoad(res, len(bs), n, err)
	}
	if err != nil {
		return err
	}
	if err := l.sp.setProgress(to); err != nil {
		return err
	}
	// segments wholly loaded can go
	segs, err := l.sp.segments()
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s < to.seg {
			if err := os.Remove(filepath.Join(l.sp.dir, segName(s))); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
		}
	}
	return nil
}

func decodeLine(line []byte) (store.Beacon, error) {
	var b store.Beacon
	ms, rest, ok := bytes.Cut(bytes.TrimSuffix(line, []byte{'\n'}), []byte{' '})
	if !ok {
		return b, errors.New("line is not \"<ms> <beacon>\"")
	}
	v, err := strconv.ParseInt(string(ms), 10, 64)
	if err != nil {
		return b, fmt.Errorf("received time %q: %w", ms, err)
	}
	if _, err := rum.ParseBeacon(rest, rum.Bulk, &b.Beacon); err != nil {
		return b, err
	}
	b.Received, b.Source = time.UnixMilli(v).UTC(), "http"
	return b, nil
}
