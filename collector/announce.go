package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// AnnounceFile is the file in the store directory that tells other
// processes which collector holds the store (Options.StoreDir): DuckDB
// lets one process open the store, so `steer store stats` asks that
// collector instead.
const AnnounceFile = "collector.json"

// Announcement is AnnounceFile's content:
//
//	{"pid":4242,"url":"http://127.0.0.1:9101","started":"2026-12-07T09:00:00Z"}
//
// URL serves GET /v1/store/stats: the admin listener's, else the public
// listener's (which answers it to loopback peers only), with an
// unspecified listen address (0.0.0.0, ::) replaced by 127.0.0.1. With TLS,
// TLSCert is the certificate file the collector serves, so that a client
// on this host can pin it rather than check the name (the certificate
// names the public host, not 127.0.0.1).
type Announcement struct {
	PID     int       `json:"pid"`
	URL     string    `json:"url"`
	TLSCert string    `json:"tls_cert,omitempty"`
	Started time.Time `json:"started"`
}

// ParseAnnouncement parses and checks an AnnounceFile.
func ParseAnnouncement(data []byte) (Announcement, error) {
	var a Announcement
	if err := json.Unmarshal(data, &a); err != nil {
		return Announcement{}, fmt.Errorf("%s: %w", AnnounceFile, err)
	}
	if a.PID <= 0 {
		return Announcement{}, fmt.Errorf("%s: pid: must be a positive process id, got %d", AnnounceFile, a.PID)
	}
	if err := checkBaseURL(a.URL); err != nil {
		return Announcement{}, fmt.Errorf("%s: url: %w", AnnounceFile, err)
	}
	return a, nil
}

// checkBaseURL checks a collector's base URL: http or https, a host, no
// query or fragment.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want http:// or https://", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q: a base URL has no user, query or fragment", s)
	}
	return nil
}

// ReadAnnouncement reads the AnnounceFile in the store directory dir. An
// error wrapping fs.ErrNotExist means no collector announced itself
// there. The announcement may be stale (a collector killed with SIGKILL
// leaves it behind): see Alive.
func ReadAnnouncement(dir string) (Announcement, error) {
	data, err := os.ReadFile(filepath.Join(dir, AnnounceFile))
	if err != nil {
		return Announcement{}, err
	}
	a, err := ParseAnnouncement(data)
	if err != nil {
		return Announcement{}, fmt.Errorf("%s: %w", dir, err)
	}
	return a, nil
}

// Alive reports whether the announcing process still runs (on systems
// without signal 0, whether it might).
func (a Announcement) Alive() bool { return processAlive(a.PID) }

// announce writes the AnnounceFile into dir (atomically: a reader sees the
// old file or the new one) for the listeners l and admin.
func (s *Server) announce(dir string, l, admin net.Listener) (Announcement, error) {
	a := Announcement{PID: os.Getpid(), Started: s.now().UTC().Truncate(time.Second)}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
		cert, err := filepath.Abs(s.cfg.TLSCert)
		if err != nil {
			return a, err
		}
		a.TLSCert = cert
	}
	ln := l
	if admin != nil {
		ln = admin
	}
	a.URL = scheme + "://" + localAddr(ln.Addr())
	data, err := json.Marshal(a)
	if err != nil {
		return a, err
	}
	tmp, err := os.CreateTemp(dir, AnnounceFile+".*")
	if err != nil {
		return a, err
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Chmod(0o640) // as the store: its group may look
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, AnnounceFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return a, err
	}
	return a, nil
}

// unannounce removes the AnnounceFile from dir if it is still a's.
func unannounce(dir string, a Announcement) error {
	cur, err := ReadAnnouncement(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && cur.PID != a.PID) {
		return nil
	}
	// ours, or unreadable (then no one can use it either)
	if err := os.Remove(filepath.Join(dir, AnnounceFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// localAddr is a listener's address as this host reaches it: an
// unspecified address becomes 127.0.0.1 (Go listens on both families for
// "tcp" on 0.0.0.0 or ::, and shows either as [::]).
func localAddr(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(ap.Port())))
}
