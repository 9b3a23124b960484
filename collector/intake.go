package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// intake is one kind of record's way into the store (beacons, query log
// lines): requests queue their records for a group commit and wait until
// the records are durable — an fdatasync'd append to the spool, or a store
// transaction when there is no spool — and, with a spool, a loader moves
// them into the store.
//
// Every wait is bounded: a request waits at most the commit timeout (and
// no longer than its own context) to get into the queue and for its
// commit, and is answered 503 otherwise. A record of a request answered
// 503 may still be committed later (it was queued): it is then stored
// without an acknowledgement, and a resend is a duplicate; what is
// acknowledged is always durable.
type intake[T any] struct {
	jobs    chan *job[T]
	max     int           // most records in one group commit
	timeout time.Duration // longest wait of a request
	encode  func(buf []byte, item *T) []byte
	// direct commits without a spool (a store transaction).
	direct func(ctx context.Context, items []T) error
	// committed reports each group commit.
	committed func(d time.Duration, n int, err error)

	sp  *spool
	ld  *loader[T]
	buf []byte // the commit loop's encoding buffer

	closeMu sync.RWMutex
	closed  bool
	stop    chan struct{}
	done    chan struct{}
	ldStop  chan struct{}
	ldDone  chan error
}

// job is one request's records waiting for a group commit.
type job[T any] struct {
	items []T
	done  chan error
}

var (
	errShuttingDown = errors.New("collector shutting down")
	// errQueueFull: the request could not even queue within the commit
	// timeout (commits are stalled, e.g. on a slow disk).
	errQueueFull = errors.New("the commit queue stayed full")
	// errCommitTimeout: queued, but not committed within the timeout.
	errCommitTimeout = errors.New("not committed in time")
)

// start runs the commit loop and, with a spool, the loader.
func (in *intake[T]) start(onLoaderExit func(error)) {
	in.stop, in.done = make(chan struct{}), make(chan struct{})
	if in.ld != nil {
		in.ld.setCaughtUp(in.ld.now()) // /healthz may ask before the loader's first round
		in.ldStop, in.ldDone = make(chan struct{}), make(chan error, 1)
		go func() {
			err := in.ld.run(in.ldStop)
			in.ld.exit(err)
			if onLoaderExit != nil {
				onLoaderExit(err)
			}
			in.ldDone <- err
		}()
	}
	go in.commitLoop()
}

// timers recycles the commit wait's timers: one per request otherwise.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop() // since Go 1.23 no stale tick can be received after Stop
	timers.Put(t)
}

// commit queues items for the next group commit and waits until they are
// durable, at most the commit timeout and while ctx lasts.
func (in *intake[T]) commit(ctx context.Context, items []T) error {
	in.closeMu.RLock()
	if in.closed {
		in.closeMu.RUnlock()
		return errShuttingDown
	}
	j := &job[T]{items: items, done: make(chan error, 1)}
	t := getTimer(in.timeout)
	defer putTimer(t)
	select {
	case in.jobs <- j:
	case <-ctx.Done():
		in.closeMu.RUnlock()
		return ctx.Err()
	case <-t.C:
		in.closeMu.RUnlock()
		return errQueueFull
	}
	in.closeMu.RUnlock()
	// The commit goes ahead even if the request gives up: the records may
	// then be stored without an acknowledgement (at-least-once; a resend
	// is recognized as a duplicate).
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errCommitTimeout
	}
}

// commitLoop writes queued records in group commits: it takes everything
// queued while the previous commit ran (up to max records), so a lone
// record is written at once and a flood in few large commits.
func (in *intake[T]) commitLoop() {
	defer close(in.done)
	var batch []*job[T]
	var items []T
	for {
		var first *job[T]
		select {
		case first = <-in.jobs:
		case <-in.stop:
			// drain what was queued before Close
			for {
				select {
				case j := <-in.jobs:
					in.write([]*job[T]{j}, j.items)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		items = append(items[:0], first.items...)
	fill:
		for len(items) < in.max {
			select {
			case j := <-in.jobs:
				batch = append(batch, j)
				items = append(items, j.items...)
			default:
				break fill
			}
		}
		in.write(batch, items)
		clear(batch)
	}
}

func (in *intake[T]) write(batch []*job[T], items []T) {
	t0 := time.Now()
	var err error
	if in.sp != nil {
		in.buf = in.buf[:0]
		for i := range items {
			in.buf = in.encode(in.buf, &items[i])
			in.buf = append(in.buf, '\n')
		}
		var start, end position
		start, end, err = in.sp.append(in.buf)
		if err == nil {
			select {
			case in.ld.mem <- memBatch[T]{start, end, slices.Clone(items)}:
			default: // the loader is behind: it reads the files instead
			}
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), commitDeadline)
		err = in.direct(ctx, items)
		cancel()
	}
	if in.committed != nil {
		in.committed(time.Since(t0), len(items), err)
	}
	for _, j := range batch {
		j.done <- err
	}
}

// close stops taking records, commits what is queued, loads everything
// spooled into the store and stops. It returns the loader's error, if any
// (the spool keeps what was not loaded, for the next start).
func (in *intake[T]) close() error {
	in.closeMu.Lock()
	in.closed = true
	in.closeMu.Unlock()
	close(in.stop)
	<-in.done
	if in.sp == nil {
		return nil
	}
	close(in.ldStop)
	return errors.Join(<-in.ldDone, in.sp.close())
}

// backlog is the spool's backlog in bytes (0 without a spool).
func (in *intake[T]) backlog() float64 {
	if in.sp == nil {
		return 0
	}
	return float64(in.sp.backlog())
}

// health names what is wrong with the loader, or returns "".
func (in *intake[T]) health(name string, maxLag time.Duration) string {
	if in.ld == nil {
		return ""
	}
	lag, lastErr, stopped, exitErr := in.ld.lag()
	if stopped {
		if exitErr != nil {
			return fmt.Sprintf("%s spool: the loader stopped: %v", name, Redact(exitErr.Error()))
		}
		return name + " spool: the loader stopped"
	}
	if lag <= maxLag {
		return ""
	}
	msg := fmt.Sprintf("%s spool: the loader has been behind for %s (%d bytes acknowledged but not in the store)",
		name, roundDuration(lag), in.sp.backlog())
	if lastErr != nil {
		msg += ": " + Redact(lastErr.Error())
	}
	return msg
}

// roundDuration rounds to seconds, or to milliseconds under a second.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
