package chstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error is an error the ClickHouse server returned.
type Error struct {
	Node    string // host:port
	Status  int    // HTTP status
	Code    int    // ClickHouse's error code, 0 if not found in the message
	Message string // the server's text, first line
}

func (e *Error) Error() string {
	return fmt.Sprintf("clickhouse %s: %s", e.Node, e.Message)
}

// client talks to ClickHouse's HTTP interface: every statement is one
// POST, reads in RowBinary with wait_end_of_query=1 (so that an error
// while the result is produced is an HTTP error, not text in the middle
// of the rows).
type client struct {
	hc             *http.Client
	user, password string
}

// setting is one URL parameter: a ClickHouse setting for one statement.
type setting struct{ k, v string }

// exec runs a statement that returns nothing, the SQL in the body.
func (c *client) exec(ctx context.Context, node, sql string, settings ...setting) error {
	return c.do(ctx, node, sql, nil, settings, nil)
}

// insert runs an INSERT ... FORMAT RowBinary statement with data as its
// rows.
func (c *client) insert(ctx context.Context, node, sql string, data []byte, settings ...setting) error {
	return c.do(ctx, node, sql, data, settings, nil)
}

// query runs a SELECT and hands its RowBinary result to read, which must
// consume every row (or return an error).
func (c *client) query(ctx context.Context, node, sql string, read func(*rowReader) error, settings ...setting) error {
	return c.do(ctx, node, sql+"\nFORMAT RowBinary", nil, append(slices.Clip(settings), setting{"wait_end_of_query", "1"}), read)
}

// external is a temporary table sent with a query (ClickHouse's
// "external data"): its rows in RowBinary.
type external struct {
	name, structure string // structure: "network UInt64, id UInt64"
	data            []byte
}

// queryExt is query with external tables, which the query reads by name
// (and a Distributed query sends on to the shards).
func (c *client) queryExt(ctx context.Context, node, sql string, ext []external, read func(*rowReader) error, settings ...setting) error {
	return c.do(ctx, node, sql+"\nFORMAT RowBinary", nil, append(slices.Clip(settings), setting{"wait_end_of_query", "1"}), read, ext...)
}

func (c *client) do(ctx context.Context, node, sql string, data []byte, settings []setting, read func(*rowReader) error, ext ...external) error {
	v := url.Values{}
	qid := queryID()
	v.Set("query_id", qid)
	for _, s := range settings {
		v.Set(s.k, s.v)
	}
	var body io.Reader = strings.NewReader(sql)
	contentType := "text/plain"
	switch {
	case data != nil:
		v.Set("query", sql)
		body = bytes.NewReader(data)
	case len(ext) > 0:
		v.Set("query", sql)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, e := range ext {
			v.Set(e.name+"_structure", e.structure)
			v.Set(e.name+"_format", "RowBinary")
			w, err := mw.CreateFormFile(e.name, e.name)
			if err != nil {
				return fmt.Errorf("clickhouse %s: %w", node, err)
			}
			_, _ = w.Write(e.data)
		}
		if err := mw.Close(); err != nil {
			return fmt.Errorf("clickhouse %s: %w", node, err)
		}
		body, contentType = &buf, mw.FormDataContentType()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+node+"/?"+v.Encode(), body)
	if err != nil {
		return fmt.Errorf("clickhouse %s: %w", node, err)
	}
	req.Header.Set("Content-Type", contentType)
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.killOnCancel(ctx, node, qid)
		return fmt.Errorf("clickhouse %s: %w", node, unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
		return serverError(node, resp.StatusCode, msg)
	}
	if read == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return fmt.Errorf("clickhouse %s: %w", node, err)
		}
		return nil
	}
	r := &rowReader{r: bufio.NewReaderSize(resp.Body, 64<<10)}
	if err := read(r); err != nil {
		c.killOnCancel(ctx, node, qid)
		return err
	}
	if r.err != nil {
		c.killOnCancel(ctx, node, qid)
		return fmt.Errorf("clickhouse %s: reading the result: %w", node, r.err)
	}
	if !r.done() {
		return fmt.Errorf("clickhouse %s: reading the result: %w", node, errTrailing)
	}
	return nil
}

var errTrailing = errors.New("bytes after the last row")

// unwrapURLError drops net/http's "Post "http://...": " prefix, which
// repeats the node and may be long.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// killOnCancel asks the server to stop a query whose caller gave up:
// ClickHouse 18.16 keeps running a query after its HTTP client went away.
func (c *client) killOnCancel(ctx context.Context, node, qid string) {
	if ctx.Err() == nil {
		return
	}
	go func() {
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.exec(kctx, node, `KILL QUERY WHERE query_id = `+quote(qid)+` ASYNC`)
	}()
}

// serverError makes an *Error of a failed response: ClickHouse writes
// "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., ...".
func serverError(node string, status int, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	e := &Error{Node: node, Status: status, Message: msg}
	if rest, ok := strings.CutPrefix(msg, "Code: "); ok {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		e.Code, _ = strconv.Atoi(rest[:n])
		// keep the exception's text only: "DB::NetException: text"
		if _, after, ok := strings.Cut(rest, "e.displayText() = "); ok {
			if strings.HasPrefix(after, "DB::") {
				if _, text, ok := strings.Cut(after, ": "); ok {
					after = text
				}
			}
			after, _, _ = strings.Cut(after, ", e.what() = ")
			e.Message = strings.TrimSuffix(strings.TrimSpace(after), " Log:")
		}
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP %d", status)
	}
	return e
}

// queryID is a random query_id, to find a query again (KILL QUERY).
func queryID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "steer-" + hex.EncodeToString(b[:])
}

// quote returns s as a ClickHouse string literal: single quotes, with
// backslash and quote escaped and every byte outside printable ASCII
// written as \xHH, so that any bytes (a query name from a log, a label)
// are safe inside SQL text in every server version.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			const digits = "0123456789ABCDEF"
			b.WriteString(`\x`)
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteList is a SQL array literal of strings.
func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "emptyArrayString()"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(s))
	}
	b.WriteByte(']')
	return b.String()
}

// float64SQL is an exact Float64 constant: its bits, little-endian, so
// that no decimal parsing (whose rounding differs between servers)
// stands between Go's value and the server's.
func float64SQL(x float64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
	return "reinterpretAsFloat64(unhex('" + strings.ToUpper(hex.EncodeToString(b[:])) + "'))"
}

// int64SQL is an Int64 constant.
func int64SQL(x int64) string {
	if x == math.MinInt64 {
		return "toInt64('-9223372036854775808')"
	}
	return "toInt64(" + strconv.FormatInt(x, 10) + ")"
}

// rowReader decodes RowBinary. The first error sticks: reads after it
// return zero values, and the caller checks err at the end of a row.
type rowReader struct {
	r   *bufio.Reader
	err error
	buf []byte
}

// more reports whether another row follows.
func (r *rowReader) more() bool {
	if r.err != nil {
		return false
	}
	_, err := r.r.Peek(1)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		return false
	}
	return true
}

// done reports whether the result ended cleanly after the last row.
func (r *rowReader) done() bool {
	_, err := r.r.Peek(1)
	return errors.Is(err, io.EOF)
}

func (r *rowReader) fail(err error) {
	if r.err == nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
	}
}

func (r *rowReader) fixed(n int) []byte {
	if r.err != nil {
		return nil
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.fail(err)
		return nil
	}
	return b
}

func (r *rowReader) u8() uint8 {
	if r.err != nil {
		return 0
	}
	c, err := r.r.ReadByte()
	if err != nil {
		r.fail(err)
	}
	return c
}

func (r *rowReader) u32() uint32 {
	if b := r.fixed(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *rowReader) u64() uint64 {
	if b := r.fixed(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *rowReader) i64() int64 { return int64(r.u64()) }

func (r *rowReader) f32() float32 { return math.Float32frombits(r.u32()) }

func (r *rowReader) f64() float64 { return math.Float64frombits(r.u64()) }

// maxString bounds a string or array length read from a result: a
// corrupt length must not allocate gigabytes.
const maxString = 64 << 20

func (r *rowReader) uvarint() int {
	if r.err != nil {
		return 0
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		r.fail(err)
		return 0
	}
	if n > maxString {
		r.fail(fmt.Errorf("length %d in the result", n))
		return 0
	}
	return int(n)
}

// bytes returns the next String's bytes, valid until the next read.
func (r *rowReader) bytes() []byte {
	n := r.uvarint()
	if n == 0 {
		return nil
	}
	return r.fixed(n)
}

func (r *rowReader) str() string { return string(r.bytes()) }

// Appending RowBinary values.

func appendUvarint(dst []byte, n int) []byte { return binary.AppendUvarint(dst, uint64(n)) }

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendU64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }

func appendI64(dst []byte, v int64) []byte { return binary.LittleEndian.AppendUint64(dst, uint64(v)) }

func appendF64(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}
