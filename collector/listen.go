package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// adminMaxConns bounds the admin listener's connections (scrapers,
// shippers).
const adminMaxConns = 256

// Listen opens the configured listeners: the public one (listen) and, when
// admin is set, the admin one (nil otherwise).
func (s *Server) Listen() (public, admin net.Listener, err error) {
	public, err = net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	if s.cfg.Admin != "" {
		admin, err = net.Listen("tcp", s.cfg.Admin)
		if err != nil {
			_ = public.Close()
			return nil, nil, fmt.Errorf("admin: %w", err)
		}
	}
	return public, admin, nil
}

// Serve runs the collector on l and, when admin is not nil, its admin
// endpoints (/metrics, /querylog, /healthz, /v1/store/stats) on admin,
// until ctx is done; then it shuts down gracefully: no new requests,
// in-flight ones finish, queued records are committed and the spool is
// loaded into the store. With Options.StoreDir it announces itself there
// (AnnounceFile) while it serves, and removes the file when it stops.
//
// The public listener is hardened against connection floods: at most
// max_conns connections (one past the limit waits in the kernel's accept
// queue, and idle keep-alive connections are closed to make room),
// request headers must arrive within read_header_timeout (slowloris), a
// whole request within 30 s, and headers are capped at 16 KiB.
func (s *Server) Serve(ctx context.Context, l, admin net.Listener) error {
	if s.cfg.Admin != "" && admin == nil {
		return errors.Join(errors.New("collector: admin is configured but Serve got no admin listener"), s.Close())
	}
	servers := []httpServe{s.httpServer(s, l, s.cfg.MaxConns)}
	if admin != nil {
		servers = append(servers, s.httpServer(s.admin, admin, adminMaxConns))
	}
	announced := false
	var ann Announcement
	if s.storeDir != "" {
		// the listeners are bound: a client reading the file connects and
		// waits in the accept queue until the servers below run
		var err error
		if ann, err = s.announce(s.storeDir, l, admin); err != nil {
			// not fatal: only steer store stats looks for it
			s.log.Warn("could not announce the collector in its store directory: steer store stats will not find it while it runs",
				"file", AnnounceFile, "error", err)
		}
		announced = err == nil
	}
	errc := make(chan error, len(servers))
	for _, sv := range servers {
		go func() {
			if s.cfg.TLSCert != "" {
				errc <- sv.hs.ServeTLS(sv.l, s.cfg.TLSCert, s.cfg.TLSKey)
			} else {
				errc <- sv.hs.Serve(sv.l)
			}
		}()
	}
	var errs []error
	select {
	case <-ctx.Done():
	case err := <-errc: // a listener failed: stop the rest too
		errs = append(errs, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	for _, sv := range servers {
		errs = append(errs, sv.hs.Shutdown(sctx))
	}
	cancel()
	if announced {
		// no longer served; the store stays held until the spool is loaded
		// and the caller closes it
		if err := unannounce(s.storeDir, ann); err != nil {
			s.log.Warn("could not remove the collector's announcement", "file", AnnounceFile, "error", err)
		}
	}
	errs = slices.DeleteFunc(errs, func(err error) bool { return errors.Is(err, http.ErrServerClosed) })
	return errors.Join(errors.Join(errs...), s.Close())
}

// httpServe is an http.Server and the listener it is to serve.
type httpServe struct {
	hs *http.Server
	l  net.Listener
}

// httpServer is an http.Server for h with the config's timeouts, and l
// limited to maxConns connections.
func (s *Server) httpServer(h http.Handler, l net.Listener, maxConns int) httpServe {
	ll := newLimitListener(l, maxConns)
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          s.ErrorLog(),
		ConnState:         ll.connState,
	}
	return httpServe{hs, ll}
}

// limitListener accepts at most n connections at a time: Accept waits
// for one to close. While it waits, idle keep-alive connections are
// closed, as they go idle too: a client that holds connections open
// without sending requests cannot keep others out. Connections still
// sending their request headers are bounded by ReadHeaderTimeout.
type limitListener struct {
	net.Listener
	sem     chan struct{}
	closed  chan struct{}
	once    sync.Once
	waiting atomic.Bool

	mu   sync.Mutex
	idle map[net.Conn]struct{}
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), closed: make(chan struct{}), idle: map[net.Conn]struct{}{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.waiting.Store(true)
		l.closeIdle()
		select {
		case l.sem <- struct{}{}:
			l.waiting.Store(false)
		case <-l.closed:
			l.waiting.Store(false)
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// connState tracks idle connections (http.Server.ConnState).
func (l *limitListener) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st != http.StateIdle {
		delete(l.idle, c)
		return
	}
	if l.waiting.Load() {
		_ = c.Close() // a connection waits for its slot
		return
	}
	l.idle[c] = struct{}{}
}

func (l *limitListener) closeIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.idle {
		_ = c.Close()
		delete(l.idle, c)
	}
}

// limitConn gives its slot back once closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
