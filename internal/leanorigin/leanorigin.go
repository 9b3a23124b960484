// Package leanorigin is a minimal HTTP/1.1 origin for proxy benchmarks
// (bench/edge.sh, cmd/edge-origin): it answers every request with a fixed
// body over kept-alive connections while doing as little work as it can,
// so that the proxy under test, not the origin, is what a benchmark
// measures (a net/http origin costs about as much CPU as the proxy).
//
// A request for a path starting with /64k gets a 64 KiB body, any other
// path 1 KiB; HEAD gets the header only. Request bodies with a
// Content-Length are read and discarded; a chunked request body, a
// malformed request line or a header past MaxHeaderBytes closes the
// connection after a 400.
package leanorigin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// MaxHeaderBytes bounds a request's header.
const MaxHeaderBytes = 16 << 10

// Body sizes served.
const (
	SmallBody = 1 << 10
	LargeBody = 64 << 10
)

var (
	small, smallHead = response(SmallBody)
	large, largeHead = response(LargeBody)
	badRequest       = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

// response is a complete 200 response with an n-byte body, and its header
// alone (for HEAD).
func response(n int) (full, head []byte) {
	h := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", n)
	body := bytes.Repeat([]byte("x"), n)
	return append([]byte(h), body...), []byte(h)
}

// Serve accepts connections on ln and serves each on its own goroutine
// until ln is closed; it returns the Accept error then.
func Serve(ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer func() { _ = c.Close() }()
			_ = ServeConn(c)
		})
	}
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// ServeConn serves the requests of one connection until the client closes
// it, sends Connection: close, or sends something it cannot parse. It
// returns nil on a clean end.
func ServeConn(c io.ReadWriter) error {
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	defer func() { br.Reset(nil); readers.Put(br) }()
	for {
		req, err := readRequest(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			_, _ = c.Write(badRequest)
			return err
		}
		if req.bodyLen > 0 {
			if _, err := br.Discard(int(req.bodyLen)); err != nil {
				return fmt.Errorf("leanorigin: request body: %w", err)
			}
		}
		resp := small
		switch {
		case req.large && req.head:
			resp = largeHead
		case req.large:
			resp = large
		case req.head:
			resp = smallHead
		}
		if _, err := c.Write(resp); err != nil {
			return err
		}
		if req.close {
			return nil
		}
	}
}

type request struct {
	head, large, close bool
	bodyLen            int64
}

var (
	errHeaderTooLarge = errors.New("leanorigin: request header too large")
	errChunked        = errors.New("leanorigin: chunked request bodies are not supported")
)

// readRequest reads one request head. io.EOF means the client closed the
// connection between requests.
func readRequest(br *bufio.Reader) (request, error) {
	var req request
	total := 0
	first := true
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err != nil {
			if errors.Is(err, io.EOF) && first && len(line) == 0 {
				return req, io.EOF
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return req, errHeaderTooLarge
			}
			return req, fmt.Errorf("leanorigin: reading request: %w", err)
		}
		if total > MaxHeaderBytes {
			return req, errHeaderTooLarge
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			first = false
			method, rest, ok := bytes.Cut(line, []byte{' '})
			path, proto, ok2 := bytes.Cut(rest, []byte{' '})
			if !ok || !ok2 || len(method) == 0 || len(path) == 0 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
				return req, fmt.Errorf("leanorigin: malformed request line %q", truncate(line))
			}
			req.head = string(method) == "HEAD"
			req.large = bytes.HasPrefix(path, []byte("/64k"))
			req.close = string(proto) == "HTTP/1.0"
			continue
		}
		if len(line) == 0 {
			return req, nil
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return req, fmt.Errorf("leanorigin: malformed header line %q", truncate(line))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return req, fmt.Errorf("leanorigin: bad Content-Length %q", truncate(value))
			}
			req.bodyLen = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return req, errChunked
		case bytes.EqualFold(name, []byte("Connection")):
			req.close = bytes.EqualFold(value, []byte("close"))
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
