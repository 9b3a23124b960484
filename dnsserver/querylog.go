package dnsserver

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
)

// queryLog appends one NDJSON line per RUM query (DESIGN.md format):
//
//	{"ts":"…","qname":"k3f9q2x7w1.rum.example.net.","qtype":"A","resolver":"198.51.100.7","ecs":"203.0.113.0/24","pop":"fra","source":"ecs"}
//
// The ECS subnet is logged capped at /24 or /56, never finer. Lines go
// through a buffered channel to one writer goroutine that flushes at least
// every 100 ms; when the writer falls behind, lines are dropped and counted
// rather than slowing the query path.
type queryLog struct {
	log     *slog.Logger
	dropped prometheus.Counter

	mu   sync.RWMutex // guards path, ch, done; senders hold it shared so ch is not closed under them
	path string
	ch   chan []byte
	done chan struct{}
}

func newQueryLog(l *slog.Logger, dropped prometheus.Counter) *queryLog {
	return &queryLog{log: l, dropped: dropped}
}

// open (re)opens the log at path; "" turns logging off.
func (ql *queryLog) open(path string) error {
	ql.mu.Lock()
	defer ql.mu.Unlock()
	if path == ql.path {
		return nil
	}
	ql.closeLocked()
	ql.path = path
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		ql.path = ""
		return fmt.Errorf("opening query log: %w", err)
	}
	ql.ch = make(chan []byte, 8192)
	ql.done = make(chan struct{})
	go ql.write(f, ql.ch, ql.done)
	return nil
}

func (ql *queryLog) write(f *os.File, ch chan []byte, done chan struct{}) {
	defer close(done)
	w := bufio.NewWriterSize(f, 64<<10)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				_ = w.Flush()
				_ = f.Close()
				return
			}
			_, _ = w.Write(line)
		case <-tick.C:
			if err := w.Flush(); err != nil {
				ql.log.Error("query log write", "err", err)
			}
		}
	}
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
