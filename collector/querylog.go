package collector

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/steer-gslb/steer/rum"
)

// serveQueryLog accepts DNS query log lines shipped from DNS servers at
// other PoPs (steer ship, or any log shipper): POST /querylog with a query
// log token (Config.QueryLogTokens: not an agent's, which web pages and
// desktop apps carry), an NDJSON body of the DNS server's query_log lines.
// A batch is all or nothing: one bad line rejects it, naming the line, so
// the shipper can resend it whole. The answer ({"accepted": N}) comes once
// the lines are durable: in the query log spool (SpoolDir/querylog), from
// which a loader moves them into the store, as for beacons; without a
// spool, in the store. Repeats (a shipper resending after a lost answer,
// or a replay of the spool after a crash) are harmless: the builder's join
// takes the first query of each test name and counts the rest.
func (s *Server) serveQueryLog(w http.ResponseWriter, r *http.Request) {
	n, rej := s.handleQueryLog(r)
	code := http.StatusOK
	if rej != nil {
		code = rej.code
		s.m.rejected.WithLabelValues("querylog-" + rej.reason).Inc()
		if code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		rej.write(w)
	} else {
		s.m.queries.Add(float64(n))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"accepted":%d}`+"\n", n)
	}
	s.m.queryLogRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (s *Server) handleQueryLog(r *http.Request) (int, *rejection) {
	if r.Method != http.MethodPost {
		return 0, reject(http.StatusMethodNotAllowed, "method", "method %s not allowed: POST query log lines", r.Method)
	}
	t, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return 0, reject(http.StatusUnauthorized, "token", "query log lines need a query log token (Authorization: Bearer)")
	}
	if !s.logTokens[sha256.Sum256([]byte(t))] {
		return 0, reject(http.StatusUnauthorized, "token", "Authorization: not a query log token")
	}
	switch ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(ct)) {
	case "application/x-ndjson", "application/jsonl", "text/plain", "":
	default:
		return 0, reject(http.StatusUnsupportedMediaType, "type", "Content-Type %q: send application/x-ndjson", ct)
	}
	body, rej := s.readBody(r, nil)
	if rej != nil {
		return 0, rej
	}
	var qs []rum.LogEntry
	if err := rum.EachLogEntry(body, func(e *rum.LogEntry) error { qs = append(qs, *e); return nil }); err != nil {
		return 0, reject(http.StatusBadRequest, "invalid", "%v", err)
	}
	if len(qs) == 0 {
		return 0, reject(http.StatusBadRequest, "invalid", "empty batch")
	}
	if err := s.queries.commit(r.Context(), qs); err != nil {
		rej := s.commitRejection(r.Context(), "query log lines", err)
		if rej.code != 499 {
			s.log.Warn("query log lines not stored", "lines", len(qs), "reason", rej.reason)
		}
		return 0, rej
	}
	return len(qs), nil
}
