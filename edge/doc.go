// Package edge is steer's edge proxy, what runs at each PoP (`steer edge`,
// cmd/steer-edge): it terminates TCP and TLS close to the user and carries
// requests to the origin data centers over warm, long-lived connections.
//
// Clients speak TLS 1.2 (ECDHE key exchange with AEAD suites only) or 1.3,
// HTTP/1.1 or HTTP/2 (ALPN); certificates come from PEM files chosen by
// SNI and are reloaded when the files change (polled every tls.poll) or on
// SIGHUP — a pair that fails to load keeps the old ones serving.
//
// Reload (SIGHUP, or a change of the config file: polled every reload.poll,
// applied once it stayed unchanged for reload.debounce) re-reads the whole
// config into a new immutable snapshot — routes, upstreams and pins, token
// modes and key set, upstream and body timeouts, access log, load report,
// debug page, PoP label, drain settings — and swaps it in atomically: new
// requests use it, requests in flight finish on the one they started with.
// Upstreams whose settings did not change keep their pool and its warm
// connections; a replaced pool is prewarmed before the swap, and the old
// one's connections close when its last request ends. A config that fails
// to parse, validate or load (a certificate, CA file or key set) is
// rejected with a log line naming the problem and
// steer_edge_config_reloads_total{result="error"}: the old config serves on.
// Listeners, limits, the client-side timeouts and tls.session_tickets need
// a restart: a change is logged and the running value kept.
//
// Each upstream is an http.Transport (a connection pool bounded by
// max_conns, idle_conns kept, prewarm opened at start) behind an
// httputil.ReverseProxy: HTTP/2 over TLS when the origin offers it, h2c
// when configured, HTTP/1.1 otherwise. The origin's chain is verified
// (system roots or ca_file) and, with pin_spki_sha256, must also hold a
// pinned SubjectPublicKeyInfo: a mismatch fails closed (502, an error log
// naming the upstream and the SPKI seen, steer_edge_upstream_pin_failures_total).
// Idempotent requests without a body (GET, HEAD, OPTIONS, PUT, DELETE) are
// retried `retries` times when no response came back; bodies stream both
// ways without being buffered whole.
//
// On every request the edge sets X-Edge-PoP and a request ID embedding the
// PoP (fra-<ms base 36>-<32 random bits>), sent upstream as X-Request-ID
// and echoed to the client (a client's own X-Request-ID is replaced);
// serves /rum/probe itself (package probe); and, on routes with token
// reject or ignore, verifies the steering token (cookie or query
// steer_token, package steertoken) against the client's address and this
// PoP: reject answers 403 with the reason, ignore passes and counts.
//
// Privacy: the client's address is never logged. X-Forwarded-For carries
// the client's /24 or /56 network address by default (forwarded_for:
// network; full or off on demand), the access log writes the network only,
// and net/http's own error lines are rewritten to the network.
//
// Drain (SIGTERM, SIGINT or POST /drain on the admin listener): /healthz
// answers 503 at once; for drain_grace new connections are still accepted
// but every response closes its connection (Connection: close, or GOAWAY
// on HTTP/2) so that clients and load balancers move away; then the listen
// backlog shrinks to zero (new connects are refused, not reset), the
// queued connections are accepted and served, the listeners close and
// in-flight requests finish (bounded by drain_timeout).
//
// [Options.OnRequest] is called once per finished request with a
// [RequestInfo] (including the client's TCP connection for TCP_INFO);
// [AccessLogHook] writes it to the NDJSON access log (package
// edge/accesslog) with TCP_INFO (package edge/tcpinfo).
package edge
