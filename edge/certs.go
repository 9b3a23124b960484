package edge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// certStore holds the server certificates and reloads them when their
// files change. A pair that fails to load on reload keeps every old
// certificate serving.
type certStore struct {
	files   []CertFiles
	log     *slog.Logger
	metrics *metrics

	certs atomic.Pointer[[]*tls.Certificate]

	mu    sync.Mutex // serialises reloads
	stamp []fileStamp
}

// fileStamp is what tells a changed file: size, mtime and inode (a
// replaced file has a new inode even within one mtime tick).
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(sys.Ino) //nolint:unconvert // Ino is not uint64 on every platform
	}
	return st, nil
}

func newCertStore(files []CertFiles, log *slog.Logger, m *metrics) (*certStore, error) {
	cs := &certStore{files: files, log: log, metrics: m}
	if _, err := cs.reload(true); err != nil {
		return nil, err
	}
	return cs, nil
}

func (cs *certStore) stamps() []fileStamp {
	out := make([]fileStamp, 0, 2*len(cs.files))
	for _, f := range cs.files {
		a, _ := stampOf(f.Cert)
		b, _ := stampOf(f.Key)
		out = append(out, a, b)
	}
	return out
}

// reload loads every pair when a file changed (or always when force is
// set), and swaps them in only when all loaded. It reports whether it
// swapped.
func (cs *certStore) reload(force bool) (bool, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	st := cs.stamps()
	if !force && equalStamps(st, cs.stamp) {
		return false, nil
	}
	certs := make([]*tls.Certificate, 0, len(cs.files))
	var errs []error
	for _, f := range cs.files {
		c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s (key %s): %w", f.Cert, f.Key, err))
			continue
		}
		certs = append(certs, &c)
	}
	// Remember the stamps even on failure, so that a bad file is reported
	// once, not every second; a fixed file changes them again.
	cs.stamp = st
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	cs.certs.Store(&certs)
	return true, nil
}

// Reload reloads the certificates if their files changed, logging the
// outcome; a failure keeps the old ones.
func (cs *certStore) Reload(force bool) {
	ok, err := cs.reload(force)
	switch {
	case err != nil:
		cs.metrics.certReloads.WithLabelValues("error").Inc()
		cs.log.Error("certificate reload failed, keeping the old certificates", "err", err)
	case ok:
		cs.metrics.certReloads.WithLabelValues("ok").Inc()
		cs.log.Info("certificates reloaded", "count", len(cs.files))
	}
}

// same reports whether two stamps are of the same file contents.
func (a fileStamp) same(b fileStamp) bool {
	return a.size == b.size && a.mtime.Equal(b.mtime) && a.ino == b.ino
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].same(b[i]) {
			return false
		}
	}
	return true
}

// getCertificate picks the first certificate the client supports (SNI,
// signature algorithms), else the first one.
func (cs *certStore) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := *cs.certs.Load()
	if len(certs) == 0 {
		return nil, errors.New("no certificate loaded")
	}
	if len(certs) > 1 {
		for _, c := range certs {
			if hello.SupportsCertificate(c) == nil {
				return c, nil
			}
		}
	}
	return certs[0], nil
}
