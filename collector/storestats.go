package collector

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/steer-gslb/steer/store"
)

// StoreStatsPath is the admin endpoint serving StoreStats.
const StoreStatsPath = "/v1/store/stats"

// StoreStats is GET /v1/store/stats's answer: the row counts of the store
// the collector holds, as `steer store stats` prints them, and what it has
// acknowledged but not loaded into the store yet.
//
//	{"beacons":3,"samples":6,"queries":0,"oldest":"…","newest":"…","pid":4242,"store":"/var/lib/steer/rum","spool_backlog_bytes":0}
type StoreStats struct {
	store.Stats
	PID   int    `json:"pid"`             // the collector's process
	Store string `json:"store,omitempty"` // its store directory (Options.StoreDir), when it knows it
	// SpoolBacklog is the size of the beacons and query log lines
	// acknowledged but not yet loaded into the store (both spools).
	SpoolBacklog int64 `json:"spool_backlog_bytes"`
}

// serveStoreStats answers GET /v1/store/stats. Counting takes the store's
// read lock: a running build or a large load delays it (bounded by 30 s).
func (s *Server) serveStoreStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed: GET "+StoreStatsPath, http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	st, err := s.st.Stats(ctx)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "503 store stats: "+Redact(err.Error()), http.StatusServiceUnavailable)
		return
	}
	body, err := json.Marshal(StoreStats{Stats: st, PID: os.Getpid(), Store: s.storeDir,
		SpoolBacklog: int64(s.beacons.backlog() + s.queries.backlog())})
	if err != nil {
		http.Error(w, "500 "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

// maxStatsBody bounds an answer FetchStoreStats reads.
const maxStatsBody = 64 << 10

// FetchStoreStats asks the collector at baseURL (its admin listener, or
// its public listener from this host: see Announcement) for its store's
// stats. baseURL may end in /v1/store/stats. tlsCert, when not empty, is
// the certificate file the collector serves (Announcement.TLSCert): the
// connection is accepted if the server presents exactly that certificate,
// whatever name it bears; otherwise an https URL is verified as usual.
func FetchStoreStats(ctx context.Context, baseURL, tlsCert string) (StoreStats, error) {
	base := strings.TrimSuffix(strings.TrimRight(baseURL, "/"), StoreStatsPath)
	if err := checkBaseURL(base); err != nil {
		return StoreStats{}, fmt.Errorf("collector URL: %w", err)
	}
	u := base + StoreStatsPath
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	if tlsCert != "" {
		pin, err := certDER(tlsCert)
		if err != nil {
			return StoreStats{}, err
		}
		tr.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The name is not checked: the pinned certificate names the
			// collector's public host, and this is a connection to
			// loopback. VerifyConnection checks the certificate itself.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, pin) {
					return fmt.Errorf("the server's certificate is not the collector's %s", tlsCert)
				}
				return nil
			},
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return StoreStats{}, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return StoreStats{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBody+1))
	if err != nil {
		return StoreStats{}, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return StoreStats{}, fmt.Errorf("GET %s: %s: %s", u, resp.Status, msg)
	}
	if len(body) > maxStatsBody {
		return StoreStats{}, fmt.Errorf("GET %s: answer larger than %d bytes", u, maxStatsBody)
	}
	st, err := ParseStoreStats(body)
	if err != nil {
		return StoreStats{}, fmt.Errorf("GET %s: %w", u, err)
	}
	return st, nil
}

// ParseStoreStats parses and checks a /v1/store/stats answer.
func ParseStoreStats(data []byte) (StoreStats, error) {
	var st StoreStats
	if err := json.Unmarshal(data, &st); err != nil {
		return StoreStats{}, fmt.Errorf("not a store stats answer: %w", err)
	}
	switch {
	case st.PID <= 0:
		return StoreStats{}, fmt.Errorf("store stats: pid: must be a positive process id, got %d", st.PID)
	case st.Beacons < 0 || st.Samples < 0 || st.Queries < 0 || st.SpoolBacklog < 0:
		return StoreStats{}, errors.New("store stats: a negative count")
	case st.Oldest.After(st.Newest):
		return StoreStats{}, errors.New("store stats: oldest is after newest")
	}
	return st, nil
}

// certDER reads the first certificate of a PEM file.
func certDER(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the collector's certificate: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("the collector's certificate %s: no CERTIFICATE in it", path)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}
