package dnsserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
)

// queryLog appends one NDJSON line per RUM query (docs/DESIGN.md, "DNS query log"):
//
//	{"ts":"…","qname":"k3f9q2x7w1.rum.example.net.","qtype":"A","resolver":"198.51.100.7","ecs":"203.0.113.0/24","pop":"fra","source":"ecs"}
//
// The ECS subnet is logged capped at /24 or /56, never finer. Lines go
// through a buffered channel to one writer goroutine that flushes at least
// every 100 ms; when the writer falls behind, lines are dropped and counted
// rather than slowing the query path.
//
// The file is created 0640 and kept bounded: past rot.MaxBytes the writer
// renames it to FILE.1 (shifting older ones, keeping rot.Keep) and starts a
// new one. Every second it also checks that its path still names the file
// it writes: after logrotate's move-and-create (or a removal) it reopens
// the path; after copytruncate its O_APPEND writes simply continue at the
// new end. A follower (steer ship) finds a moved file by its inode and
// reads it to its end before going on to the new one.
type queryLog struct {
	log      *slog.Logger
	dropped  prometheus.Counter
	reopened *prometheus.CounterVec // by reason: moved, size

	mu   sync.RWMutex // guards path, rot, ch, done; senders hold it shared so ch is not closed under them
	path string
	rot  config.QueryLogRotate
	ch   chan []byte
	done chan struct{}
}

func newQueryLog(l *slog.Logger, dropped prometheus.Counter, reopened *prometheus.CounterVec) *queryLog {
	return &queryLog{log: l, dropped: dropped, reopened: reopened}
}

// queryLogMode is the query log's permission: it names the resolvers that
// asked, so it is not world-readable.
const queryLogMode = 0o640

// open (re)opens the log at path; "" turns logging off.
func (ql *queryLog) open(path string, rot config.QueryLogRotate) error {
	ql.mu.Lock()
	defer ql.mu.Unlock()
	if path == ql.path && rot == ql.rot {
		return nil
	}
	ql.closeLocked()
	ql.path, ql.rot = path, rot
	if path == "" {
		return nil
	}
	lf := &logFile{path: path, rot: rot, log: ql.log, reopened: ql.reopened}
	if err := lf.open(); err != nil {
		ql.path = ""
		return fmt.Errorf("opening query log: %w", err)
	}
	ql.ch = make(chan []byte, 8192)
	ql.done = make(chan struct{})
	go ql.write(lf, ql.ch, ql.done)
	return nil
}

func (ql *queryLog) write(lf *logFile, ch chan []byte, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	ticks := 0
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				lf.close()
				return
			}
			lf.write(line)
		case <-tick.C:
			lf.flush()
			if ticks++; ticks%10 == 0 {
				lf.follow()
			}
		}
	}
}

// logFile is the query log's open file, owned by the writer goroutine.
type logFile struct {
	path     string
	rot      config.QueryLogRotate
	log      *slog.Logger
	reopened *prometheus.CounterVec

	f      *os.File
	out    io.Writer     // f; a test's failing writer
	w      *bufio.Writer // over out
	size   int64         // bytes in the file, ours included once flushed or buffered
	failed bool          // the last write or flush failed (logged once per streak)
}

func (lf *logFile) open() error {
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, queryLogMode)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	lf.f, lf.out, lf.size = f, f, fi.Size()
	if lf.w == nil {
		lf.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		lf.w.Reset(f)
	}
	return nil
}

func (lf *logFile) write(line []byte) {
	n, err := lf.w.Write(line)
	lf.size += int64(n)
	if err != nil { // success is known only when a flush reaches the file
		lf.report("query log write", err)
	}
	if lf.rot.MaxBytes > 0 && lf.size >= lf.rot.MaxBytes {
		lf.rotate()
	}
}

func (lf *logFile) flush() { lf.report("query log write", lf.w.Flush()) }

// report logs the first error of a streak of failures (a full disk fails
// every flush) and the recovery.
func (lf *logFile) report(what string, err error) {
	if err != nil {
		// bufio.Writer keeps its first error for good: start afresh, so
		// the log recovers when the disk does (what was buffered is lost).
		lf.w.Reset(lf.out)
	}
	switch {
	case err != nil && !lf.failed:
		lf.failed = true
		lf.log.Error(what+" failed; lines are lost until it recovers", "file", lf.path, "err", err)
	case err == nil && lf.failed:
		lf.failed = false
		lf.log.Info("query log writes again", "file", lf.path)
	}
}

// rotate renames the file to FILE.1 (FILE.1 to FILE.2, …; the one past
// Keep is replaced) and starts a new FILE.
func (lf *logFile) rotate() {
	lf.flush()
	for i := lf.rot.Keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", lf.path, i), fmt.Sprintf("%s.%d", lf.path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			lf.log.Warn("query log rotation", "err", err)
		}
	}
	if err := os.Rename(lf.path, lf.path+".1"); err != nil {
		// Keep appending to the file we have: a log too big beats lost lines.
		lf.log.Error("query log rotation failed; still writing the current file", "file", lf.path, "err", err)
		lf.size = 0 // try again after another MaxBytes
		return
	}
	lf.reopen("size")
}

// follow reopens the path when it no longer names the file being written
// (moved or removed by logrotate or an operator), and notices a file cut
// shorter (copytruncate).
func (lf *logFile) follow() {
	cur, err := lf.f.Stat()
	if err != nil {
		return
	}
	fi, err := os.Stat(lf.path)
	if err == nil && os.SameFile(fi, cur) {
		if cur.Size() < lf.size-int64(lf.w.Buffered()) {
			lf.size = cur.Size() + int64(lf.w.Buffered()) // truncated under us
		}
		return
	}
	lf.reopen("moved")
}

// reopen flushes what is buffered into the old file and opens the path
// anew; when that fails the old file keeps taking the lines.
func (lf *logFile) reopen(reason string) {
	lf.flush()
	old := lf.f
	if err := lf.open(); err != nil {
		lf.log.Error("query log reopen failed; still writing the old file", "file", lf.path, "err", err)
		return
	}
	_ = old.Close()
	lf.reopened.WithLabelValues(reason).Inc()
	lf.log.Info("query log reopened", "file", lf.path, "reason", reason)
}

func (lf *logFile) close() {
	lf.flush()
	_ = lf.f.Close()
}

func (ql *queryLog) closeLocked() {
	if ql.ch != nil {
		close(ql.ch)
		<-ql.done
		ql.ch = nil
	}
}

func (ql *queryLog) close() {
	ql.mu.Lock()
	defer ql.mu.Unlock()
	ql.closeLocked()
	ql.path = ""
}

func (ql *queryLog) record(q *query, qname string, cl steering.Client, pop popmap.Label, src steering.Source) {
	b := make([]byte, 0, 192)
	b = append(b, `{"ts":"`...)
	b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","qname":`...)
	b = strconv.AppendQuote(b, dns.CanonicalName(qname))
	b = append(b, `,"qtype":"`...)
	b = append(b, dns.TypeToString[q.qtype]...)
	b = append(b, `","resolver":"`...)
	b = cl.Resolver.AppendTo(b)
	b = append(b, '"')
	if cl.ECS.IsValid() {
		b = append(b, `,"ecs":"`...)
		b = steering.CapECS(cl.ECS).AppendTo(b)
		b = append(b, '"')
	}
	if pop != "" {
		b = append(b, `,"pop":`...)
		b = strconv.AppendQuote(b, string(pop))
	}
	b = append(b, `,"source":"`...)
	b = append(b, src.String()...)
	b = append(b, "\"}\n"...)
	ql.mu.RLock()
	defer ql.mu.RUnlock()
	if ql.ch == nil {
		return
	}
	select {
	case ql.ch <- b:
	default:
		ql.dropped.Inc()
	}
}
