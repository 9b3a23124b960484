package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// loader moves spooled records into the store. Records the commit loop
// has just spooled also arrive in memory (mem), so that in steady state
// the loader does not parse them again; it reads the segment files only
// after a restart or when it fell behind and the in-memory queue
// overflowed.
//
// A failing store, an unreadable segment or a position it cannot record
// does not stop it: it retries every interval, and /healthz reports it
// (see lag). A line it cannot decode is quarantined and skipped.
type loader[T any] struct {
	sp       *spool
	mem      chan memBatch[T]
	decode   func(line []byte) (T, error)
	add      func(ctx context.Context, items []T) error
	batch    int
	interval time.Duration
	now      func() time.Time
	// quarantined reports a line moved to the quarantine file.
	quarantined func(at position, err error)
	// failed reports a failed round (nil: a round succeeded after
	// failures).
	failed func(err error)

	mu       sync.Mutex
	caughtUp time.Time // when the loader last had loaded everything durable
	lastErr  error     // the last round's error; nil once a round succeeds
	exited   bool
	exitErr  error
}

// memBatch is a group of records as spooled between start and end.
type memBatch[T any] struct {
	start, end position
	items      []T
}

// loadRun is the loader's state between rounds.
type loadRun[T any] struct {
	read     position // how far records have been read (into pending, or quarantined)
	recorded position // how far the progress file says
	pending  []T
	chunk    []byte
	next     *memBatch[T]
}

// chunkMax is how much of a segment file the loader reads at once; a line
// longer than that is not a record and is quarantined in pieces.
const chunkMax = 4 << 20

// run loads until stop is closed and everything durable is loaded (or the
// store fails at stop: then it returns the error, and the spool keeps the
// records for the next start).
func (l *loader[T]) run(stop <-chan struct{}) error {
	p := l.sp.loadedPos()
	r := &loadRun[T]{read: p, recorded: p}
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	stopping := false
	for {
		// everything durable when the round starts is in the store when
		// it ends without more to read: the loader was caught up then
		// (under steady ingest more has arrived meanwhile; that is not lag)
		t := l.now()
		more, err := l.round(r, stopping)
		l.setErr(err)
		if err != nil && stopping {
			return err
		}
		if err == nil && !more && len(r.pending) == 0 {
			l.setCaughtUp(t)
			if stopping && !r.read.less(l.sp.durable()) {
				return nil
			}
		}
		if err == nil && more {
			continue
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

// round reads what is durable (up to a batch), loads it when a batch is
// full or everything is read, and records the position. more is true when
// there is more to read at once.
func (l *loader[T]) round(r *loadRun[T], stopping bool) (more bool, err error) {
	end := l.sp.durable()
	if err := l.fill(r, end); err != nil {
		return false, err
	}
	behind := r.read.less(end)
	if len(r.pending) > 0 && (len(r.pending) >= l.batch || stopping || !behind) {
		ctx, cancel := context.WithTimeout(context.Background(), commitDeadline)
		err := l.add(ctx, r.pending)
		cancel()
		if err != nil {
			return false, err // the records stay pending: the next round retries
		}
		clear(r.pending) // let the store's copies be the only ones
		r.pending = r.pending[:0]
	}
	if len(r.pending) == 0 && r.read != r.recorded {
		err := l.sp.setProgress(r.read)
		// segments wholly loaded go even if the position could not be
		// recorded: that frees the space of a full disk
		if rerr := l.sp.removeBefore(r.read); err == nil {
			err = rerr
		}
		if err != nil {
			return false, err
		}
		r.recorded = r.read
	}
	return behind, nil
}

// fill reads records from the spool into r.pending, up to a batch or end.
func (l *loader[T]) fill(r *loadRun[T], end position) error {
	for r.read.less(end) && len(r.pending) < l.batch {
		if r.next != nil && !r.read.less(r.next.start) {
			used := r.read == r.next.start
			if used {
				r.pending = append(r.pending, r.next.items...)
				r.read = r.next.end
			}
			r.next = nil // used, or already read from the files
			if used {
				continue
			}
		}
		if r.next == nil {
			select {
			case m := <-l.mem:
				r.next = &m
				continue
			default:
			}
		}
		segEnd := end.off
		if r.read.seg < end.seg {
			var err error
			if segEnd, err = l.sp.segEnd(r.read.seg); err != nil {
				return err
			}
		}
		if r.next != nil && r.next.start.seg == r.read.seg {
			segEnd = r.next.start.off // the files only up to where memory takes over
		}
		if r.read.off >= segEnd {
			r.read = position{r.read.seg + 1, 0}
			continue
		}
		n := min(segEnd-r.read.off, chunkMax)
		r.chunk = slices.Grow(r.chunk[:0], int(n))[:n]
		if err := l.sp.readAt(r.read.seg, r.chunk, r.read.off); err != nil {
			return err
		}
		chunk := r.chunk
	lines:
		for len(chunk) > 0 && len(r.pending) < l.batch {
			var line []byte
			switch i := bytes.IndexByte(chunk, '\n'); {
			case i >= 0:
				line = chunk[:i+1]
			case int64(len(chunk)) == segEnd-r.read.off, len(chunk) == len(r.chunk):
				// a finished segment that ends without a newline (cut
				// short), or a "line" longer than any record
				line = chunk
			default:
				break lines // the line continues in the next chunk
			}
			item, err := l.decode(line)
			if err != nil {
				if err := l.quarantine(r.read, line, err); err != nil {
					return err
				}
			} else {
				r.pending = append(r.pending, item)
			}
			r.read.off += int64(len(line))
			chunk = chunk[len(line):]
		}
	}
	return nil
}

func (l *loader[T]) quarantine(at position, line []byte, err error) error {
	err = fmt.Errorf("segment %d offset %d: %s", at.seg, at.off, Redact(err.Error()))
	if qerr := l.sp.quarantine(at, line, err.Error()); qerr != nil {
		return qerr
	}
	if l.quarantined != nil {
		l.quarantined(at, err)
	}
	return nil
}

func (l *loader[T]) setCaughtUp(t time.Time) {
	l.mu.Lock()
	l.caughtUp = t
	l.mu.Unlock()
}

func (l *loader[T]) setErr(err error) {
	l.mu.Lock()
	was := l.lastErr
	l.lastErr = err
	l.mu.Unlock()
	if l.failed != nil && (err != nil || was != nil) {
		l.failed(err)
	}
}

// exit records that run returned.
func (l *loader[T]) exit(err error) {
	l.mu.Lock()
	l.exited, l.exitErr = true, err
	l.mu.Unlock()
}

// lag is how long the loader has not had everything durable loaded, and
// its last error; stopped is true once it has exited.
func (l *loader[T]) lag() (lag time.Duration, lastErr error, stopped bool, exitErr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now().Sub(l.caughtUp), l.lastErr, l.exited, l.exitErr
}

// decodeLine decodes a beacon spool line: "<received unix ms> <beacon>".
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

// encodeBeacon appends a beacon's spool line (without the newline).
func encodeBeacon(buf []byte, b *store.Beacon) []byte {
	buf = strconv.AppendInt(buf, b.Received.UnixMilli(), 10)
	buf = append(buf, ' ')
	return rum.AppendBeacon(buf, &b.Beacon)
}

// decodeQueryLine decodes a query log spool line.
func decodeQueryLine(line []byte) (rum.LogEntry, error) {
	var e rum.LogEntry
	err := rum.ParseLogEntry(bytes.TrimSuffix(line, []byte{'\n'}), &e)
	return e, err
}

func encodeQuery(buf []byte, e *rum.LogEntry) []byte { return rum.AppendLogEntry(buf, e) }
