package duckstore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

// Format is the kind of NDJSON a bulk import reads.
type Format int

// Formats.
const (
	FormatUnknown Format = iota
	FormatBeacons        // beacons (docs/DESIGN.md, "Beacons"), client_subnet required
	FormatDNSLog         // the DNS server's RUM query log
	FormatEdgeLog        // the edge proxy's access log (package edge/accesslog)
)

func (f Format) String() string {
	switch f {
	case FormatBeacons:
		return "beacons"
	case FormatDNSLog:
		return "dns log"
	case FormatEdgeLog:
		return "edge log"
	}
	return "unknown"
}

// Sniff tells a beacon line from a query-log line and an edge access-log
// line by the keys of its top-level JSON object: v, client_subnet, agent,
// dns_test or samples make a beacon; req, client_net, status, method, path,
// dur_us or a tcp_ key an edge log line (with ts and pop, which both logs
// have); ts, qname, qtype, resolver, ecs, pop or source a DNS log line. A
// line with keys of two kinds, or of none, or that is not a JSON object, is
// an error.
func Sniff(line []byte) (Format, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return FormatUnknown, errors.New("not a JSON object")
	}
	var beacon, log, edge, shared bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return FormatUnknown, errors.New("not a JSON object")
		}
		switch t {
		case "v", "client_subnet", "agent", "dns_test", "samples":
			beacon = true
		case "qname", "qtype", "resolver", "ecs", "source":
			log = true
		case "ts", "pop":
			shared = true
		case "req", "client_net", "status", "method", "path", "dur_us", "upstream_us",
			"tcp_rtt_us", "tcp_rttvar_us", "tcp_min_rtt_us", "tcp_retrans", "tcp_total_retrans", "tcp_cwnd", "tcp_delivery_rate":
			edge = true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return FormatUnknown, errors.New("not a JSON object")
		}
	}
	switch {
	case beacon && (log || shared):
		return FormatUnknown, errors.New("has keys of both a beacon and a DNS log line")
	case edge && (beacon || log):
		return FormatUnknown, errors.New("has keys of both an edge access-log line and a beacon or DNS log line")
	case beacon:
		return FormatBeacons, nil
	case edge:
		return FormatEdgeLog, nil
	case log || shared:
		return FormatDNSLog, nil
	}
	return FormatUnknown, errors.New("has no key of a beacon, a DNS log or an edge log line")
}

// ImportOptions configure Import. The zero value is the default.
type ImportOptions struct {
	// Workers parse in parallel (default GOMAXPROCS-1, at least 1); the
	// writer parses too when it has nothing to append.
	Workers int
	// Received stamps the beacons (default: when Import starts).
	Received time.Time
	// MaxLineErrors is how many bad lines ImportStats.LineErrors keeps,
	// the first ones by line number (default 10).
	MaxLineErrors int
	// TxRows is the samples and queries per transaction (default 4M):
	// large enough that DuckDB writes compressed row groups straight to the
	// database file rather than through the WAL (1M to 16M measure the
	// same; 250k is 15% slower).
	TxRows int
}

// ImportStats counts what an Import did.
type ImportStats struct {
	Format     Format
	Gzip       bool
	Lines      int // non-blank lines
	Beacons    int // beacons added
	Duplicates int // beacons already stored (or repeated in the input)
	Samples    int // samples of the beacons added
	Queries    int // query-log lines added
	NoTCP      int // edge log lines without TCP_INFO (valid, nothing to store)
	Unknown    int // unknown fields skipped (beacons)
	Truncated  int // client_subnet or ecs values cut to /24 or /56 at the door
	Rejected   map[string]int
	LineErrors []LineError // the first MaxLineErrors bad lines
	Elapsed    time.Duration
}

// RejectedTotal is the number of lines rejected.
func (st *ImportStats) RejectedTotal() int {
	n := 0
	for _, c := range st.Rejected {
		n += c
	}
	return n
}

// Add adds o's counts to st, keeping the first keep line errors of both
// (by line number).
func (st *ImportStats) Add(o *ImportStats, keep int) {
	st.Lines += o.Lines
	st.Beacons += o.Beacons
	st.Duplicates += o.Duplicates
	st.Samples += o.Samples
	st.Queries += o.Queries
	st.NoTCP += o.NoTCP
	st.Unknown += o.Unknown
	st.Truncated += o.Truncated
	for k, v := range o.Rejected {
		if st.Rejected == nil {
			st.Rejected = map[string]int{}
		}
		st.Rejected[k] += v
	}
	st.LineErrors = mergeLineErrors(st.LineErrors, o.LineErrors, keep)
}

func mergeLineErrors(a, b []LineError, keep int) []LineError {
	a = append(a, b...)
	slices.SortFunc(a, func(x, y LineError) int { return x.Line - y.Line })
	if len(a) > keep {
		a = a[:keep]
	}
	return a
}

// LineError is a rejected line. Err never contains a client address: an
// unusable client_subnet or ecs value is described, not quoted.
type LineError struct {
	Line int
	Err  string
}

// ImportFile imports one NDJSON file (Import), gzip-compressed or not.
func ImportFile(ctx context.Context, s *DB, path string, opt ImportOptions) (ImportStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ImportStats{}, err
	}
	defer func() { _ = f.Close() }() // read-only
	st, err := Import(ctx, s, f, opt)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// Import bulk-loads beacon, query-log or edge access-log NDJSON (the kind
// sniffed from the first line that tells, gzip recognized by its magic
// bytes) into s. An edge log line's TCP RTT is stored as a one-sample
// beacon of agent kind store.EdgeKind (see ImportEdgeLine). It is
// a trusted import: beacons must carry client_subnet, and a client_subnet
// or ecs finer than /24 or /56 (or with host bits set, or a bare address)
// is truncated before anything else sees it. Bad lines are counted by
// reason and the first few kept with their line numbers; they do not stop
// the import. Lines are parsed on Workers goroutines into column batches
// that one goroutine appends, TxRows to a transaction. An error reading
// the input or writing the store stops the import: the transactions
// committed before it stay, and the stats count them.
func Import(ctx context.Context, s *DB, r io.Reader, opt ImportOptions) (ImportStats, error) {
	start := time.Now()
	if opt.Workers <= 0 {
		opt.Workers = max(runtime.GOMAXPROCS(0)-1, 1)
	}
	if opt.Received.IsZero() {
		opt.Received = s.opt.Now()
	}
	if opt.MaxLineErrors <= 0 {
		opt.MaxLineErrors = 10
	}
	if opt.TxRows <= 0 {
		opt.TxRows = 4 << 20
	}
	var st ImportStats
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("reading gzip header: %w", err)
		}
		defer func() { _ = zr.Close() }() // errors surface in Read
		r, st.Gzip = zr, true
	} else {
		r = br
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := &chunker{r: r, free: make(chan []byte, opt.Workers+4)}
	first, err := ch.next()
	if err != nil && first == nil {
		return st, err
	}
	st.Format, err = sniffChunk(first)
	if err != nil {
		if first.empty() {
			st.Elapsed = time.Since(start)
			return st, nil // an empty file imports nothing
		}
		return st, err
	}

	chunks := make(chan *chunk, opt.Workers)
	// Room for the batches parsed while the writer commits (~100 ms).
	results := make(chan *parsed, 16)
	pool := make(parsedPool, 16+opt.Workers+2)
	var readErr error
	go func() {
		defer close(chunks)
		c := first
		for c != nil {
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
			if err != nil {
				break
			}
			c, err = ch.next()
		}
		readErr = err
	}()
	var wg sync.WaitGroup
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := parser{format: st.Format, received: opt.Received, maxErrs: opt.MaxLineErrors}
			for c := range chunks {
				res := pool.get()
				p.parse(c, res)
				ch.release(c)
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	// The writer: this goroutine appends each batch as it comes into an
	// open transaction, and commits every TxRows rows.
	var t *tx
	commit := func() error {
		if t == nil {
			return nil
		}
		done := t
		t = nil
		res, err := done.commit()
		if err != nil {
			return err
		}
		st.Duplicates += res.Duplicates
		st.Beacons += done.nBeacons
		st.Samples += done.nSamples
		st.Queries += done.nQueries
		return nil
	}
	var werr error
	handle := func(p *parsed) {
		if werr == nil {
			st.Add(&p.st, opt.MaxLineErrors)
			if t == nil {
				t, werr = s.begin(ctx)
			}
			if werr == nil {
				if werr = t.add(&p.b); werr != nil {
					t.rollback()
					t = nil
				}
			}
			if werr == nil && t.rows >= opt.TxRows {
				werr = commit()
			}
			if werr != nil {
				cancel()
			}
		}
		pool.put(p)
	}
	// The writer parses a chunk itself whenever no batch is waiting: with
	// one worker fewer than cores, the threads never outnumber the cores,
	// and DuckDB's appends (the serial part) are never descheduled in
	// favour of parsing.
	own := parser{format: st.Format, received: opt.Received, maxErrs: opt.MaxLineErrors}
	in, out := (<-chan *chunk)(chunks), (<-chan *parsed)(results)
	for out != nil {
		select {
		case p, ok := <-out:
			if !ok {
				out = nil
				continue
			}
			handle(p)
			continue
		default:
		}
		select {
		case p, ok := <-out:
			if !ok {
				out = nil
				continue
			}
			handle(p)
		case c, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			p := pool.get()
			own.parse(c, p)
			ch.release(c)
			handle(p)
		}
	}
	if werr == nil {
		werr = commit()
	} else if t != nil {
		t.rollback()
	}
	st.Elapsed = time.Since(start)
	if werr != nil {
		return st, werr
	}
	if readErr != nil {
		return st, readErr
	}
	return st, ctx.Err()
}

// chunk is a block of whole lines of the input.
type chunk struct {
	buf       []byte // the pooled buffer
	data      []byte // whole lines within buf
	firstLine int    // number of data's first line
	tooLong   int    // if > 0: line tooLong was longer than rum.MaxLineSize and skipped, after data
}

func (c *chunk) empty() bool {
	return c == nil || (blank(bytes.ReplaceAll(c.data, []byte{'\n'}, nil)) && c.tooLong == 0)
}

// chunkSize is the input block a worker parses at a time: 4 MiB is ~2,400
// beacons of 20 samples, enough to amortize the hand-offs and larger than
// any line allowed (rum.MaxLineSize).
const chunkSize = 4 << 20

// chunker cuts the input into chunks of whole lines.
type chunker struct {
	r     io.Reader
	size  int    // buffer size; chunkSize unless a test sets it
	carry []byte // the start of a line cut by the previous read
	line  int    // lines before the next chunk
	eof   bool
	skip  bool // discarding the rest of a line that is too long
	// free holds released buffers. A sync.Pool would drop them at every
	// garbage collection, and each new 4 MiB buffer costs page faults and
	// zeroing (~3% of an import's CPU when it did).
	free chan []byte
}

func (ch *chunker) get() []byte {
	if ch.size == 0 {
		ch.size = chunkSize
	}
	select {
	case b := <-ch.free:
		return b[:ch.size]
	default:
		return make([]byte, ch.size)
	}
}

func (ch *chunker) release(c *chunk) {
	if c.buf != nil {
		select {
		case ch.free <- c.buf:
		default:
		}
		c.buf, c.data = nil, nil
	}
}

// next returns the next chunk, or nil at the end. With a read error it
// returns the lines before it and the error.
func (ch *chunker) next() (*chunk, error) {
	for {
		if ch.eof && len(ch.carry) == 0 {
			return nil, nil
		}
		buf := ch.get()
		n := copy(buf, ch.carry)
		ch.carry = ch.carry[:0]
		var err error
		for n < len(buf) && !ch.eof && err == nil {
			var m int
			m, err = ch.r.Read(buf[n:])
			n += m
			if errors.Is(err, io.EOF) {
				ch.eof, err = true, nil
			}
		}
		if err != nil {
			err = fmt.Errorf("reading after line %d: %w", ch.line, err)
		}
		c := &chunk{buf: buf}
		data := buf[:n]
		if ch.skip {
			// The rest of a line that is too long.
			i := bytes.IndexByte(data, '\n')
			if i < 0 && !ch.eof && err == nil {
				ch.release(c)
				continue
			}
			ch.skip = false
			if i < 0 {
				data = data[:0] // the input ended within the line
			} else {
				data = data[i+1:]
			}
		}
		if !ch.eof && err == nil {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 && len(data) < len(buf) {
				// The start of a line after a skipped one: read on.
				ch.carry = append(ch.carry, data...)
				ch.release(c)
				continue
			}
			if i < 0 {
				// A full buffer without a newline.
				ch.line++
				c.tooLong, c.firstLine = ch.line, ch.line
				ch.skip = true
				return c, nil
			}
			ch.carry = append(ch.carry, data[i+1:]...)
			data = data[:i+1]
		}
		c.data, c.firstLine = data, ch.line+1
		ch.line += bytes.Count(data, []byte{'\n'})
		if len(data) > 0 && data[len(data)-1] != '\n' {
			ch.line++
		}
		return c, err
	}
}

// sniffChunk finds the format from the first lines that tell.
func sniffChunk(c *chunk) (Format, error) {
	if c == nil {
		return FormatUnknown, errors.New("empty input")
	}
	data, line := c.data, c.firstLine
	var firstErr error
	for tries := 0; len(data) > 0 && tries < 100; line++ {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if blank(l) {
			continue
		}
		tries++
		f, err := Sniff(l)
		if err == nil {
			return f, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("cannot tell beacons from DNS log lines: line %d %w", line, err)
		}
	}
	if firstErr == nil {
		firstErr = errors.New("empty input")
	}
	return FormatUnknown, firstErr
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// parsed is one chunk's batch and counts.
type parsed struct {
	b  batch
	st ImportStats
}

func (p *parsed) reset() {
	p.b.reset()
	p.st = ImportStats{}
}

// parsedPool recycles batches: their columns are the import's main
// allocation, and reusing them keeps the garbage collector idle. Like the
// chunker's buffers, a channel rather than a sync.Pool, which empties at
// every collection.
type parsedPool chan *parsed

func (pp parsedPool) get() *parsed {
	select {
	case p := <-pp:
		return p
	default:
		return &parsed{}
	}
}

func (pp parsedPool) put(p *parsed) {
	p.reset()
	select {
	case pp <- p:
	default:
	}
}

// parser is one worker's state.
type parser struct {
	format   Format
	received time.Time
	maxErrs  int
	bc       rum.Beacon
	le       rum.LogEntry
}

func (p *parser) parse(c *chunk, res *parsed) {
	st := &res.st
	reject := func(line int, reason, msg string) {
		if st.Rejected == nil {
			st.Rejected = map[string]int{}
		}
		st.Rejected[reason]++
		if len(st.LineErrors) < p.maxErrs {
			st.LineErrors = append(st.LineErrors, LineError{Line: line, Err: msg})
		}
	}
	data, line := c.data, c.firstLine-1
	for len(data) > 0 {
		line++
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		if blank(l) {
			continue
		}
		st.Lines++
		if len(l) > rum.MaxLineSize {
			reject(line, "line too long", fmt.Sprintf("longer than %d bytes", rum.MaxLineSize))
			continue
		}
		var reason, msg string
		switch p.format {
		case FormatBeacons:
			reason, msg = p.beacon(l, res)
		case FormatEdgeLog:
			reason, msg = p.edge(l, res)
		default:
			reason, msg = p.query(l, res)
		}
		if reason != "" {
			reject(line, reason, msg)
		}
	}
	if c.tooLong > 0 {
		st.Lines++
		reject(c.tooLong, "line too long", fmt.Sprintf("longer than %d bytes", rum.MaxLineSize))
	}
}

// beacon parses one beacon line into res.b; it returns a reject reason and
// message, or "".
func (p *parser) beacon(l []byte, res *parsed) (string, string) {
	u, err := rum.ParseBeacon(l, rum.Bulk, &p.bc)
	if err != nil && isField(err, "client_subnet") {
		if fixed, ok := truncateField(l, "client_subnet"); ok {
			u, err = rum.ParseBeacon(fixed, rum.Bulk, &p.bc)
			if err == nil {
				res.st.Truncated++
			}
		}
	}
	res.st.Unknown += u
	if err != nil {
		return rejectReason(err)
	}
	if !p.bc.ClientSubnet.IsValid() {
		return "client_subnet", "client_subnet: required in a bulk import"
	}
	if err := res.b.addBeacon(&p.bc, p.received, "ingest"); err != nil {
		return "beacon", err.Error()
	}
	return "", ""
}

func (p *parser) query(l []byte, res *parsed) (string, string) {
	err := rum.ParseLogEntry(l, &p.le)
	if err != nil && isField(err, "ecs") {
		if fixed, ok := truncateField(l, "ecs"); ok {
			if err = rum.ParseLogEntry(fixed, &p.le); err == nil {
				res.st.Truncated++
			}
		}
	}
	if err != nil {
		return rejectReason(err)
	}
	if err := res.b.addQuery(&p.le); err != nil {
		return "log line", err.Error()
	}
	return "", ""
}

func isField(err error, field string) bool {
	var re *rum.Error
	return errors.As(err, &re) && re.Field == field
}

// rejectReason is the reason a line is counted under (the field, with
// sample indexes dropped, or "JSON syntax") and the message to show.
// Messages about client_subnet and ecs are replaced: rum quotes the value,
// which may be a full client address.
func rejectReason(err error) (string, string) {
	var re *rum.Error
	if !errors.As(err, &re) {
		return "other", err.Error()
	}
	field := re.Field
	if i := strings.IndexByte(field, '['); i >= 0 {
		if j := strings.IndexByte(field[i:], ']'); j >= 0 {
			field = field[:i+1] + field[i+j:]
		}
	}
	switch re.Field {
	case "client_subnet", "ecs":
		return re.Field, re.Field + ": not an IP prefix or address (value not shown: it may be a client address)"
	}
	if re.Offset >= 0 {
		return "JSON syntax", re.Error()
	}
	if field == "" {
		field = "object"
	}
	return field, re.Error()
}

// truncateField rewrites line's top-level string field (client_subnet or
// ecs) to its value truncated to /24 or /56: a prefix finer than that, a
// prefix with host bits set, or a bare address (taken as /32 or /128). It
// reports false when the field is missing or its value is not a prefix or
// address.
func truncateField(line []byte, field string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if t != field {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, false
			}
			continue
		}
		start := dec.InputOffset() // after the key's closing quote
		v, err := dec.Token()
		if err != nil {
			return nil, false
		}
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		end := dec.InputOffset()
		p, ok := loosePrefix(s)
		if !ok {
			return nil, false
		}
		tp, _ := store.Truncate(p)
		out := make([]byte, 0, len(line))
		out = append(out, line[:start]...)
		out = append(out, `:"`...)
		out = tp.AppendTo(out)
		out = append(out, '"')
		return append(out, line[end:]...), true
	}
	return nil, false
}

// loosePrefix parses a CIDR prefix (host bits allowed) or a bare address.
func loosePrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		return p, err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// edge parses one edge access-log line into res.b.
func (p *parser) edge(l []byte, res *parsed) (string, string) {
	r, err := accesslog.ParseLine(l)
	if err != nil {
		if errors.Is(err, accesslog.ErrClientNet) {
			return "client_net", err.Error()
		}
		reason := "edge log line"
		if i := strings.IndexByte(err.Error(), ':'); i > 0 && i < 40 {
			reason = err.Error()[:i]
		}
		return reason, err.Error()
	}
	if !r.ClientNet.IsValid() {
		return "client_net", "client_net: required in a bulk import"
	}
	if !r.HasTCP {
		res.st.NoTCP++
		return "", ""
	}
	if err := store.EdgeBeacon(&r, &p.bc); err != nil {
		reason := "edge log line"
		if strings.HasPrefix(err.Error(), "pop:") {
			reason = "pop"
		}
		return reason, err.Error()
	}
	if p.bc.ClientSubnet != r.ClientNet {
		res.st.Truncated++
	}
	if err := res.b.addBeacon(&p.bc, r.Time, store.EdgeSource); err != nil {
		return "edge log line", err.Error()
	}
	return "", ""
}
