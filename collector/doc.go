// Package collector is steer's RUM collector: the HTTP(S) server that
// takes beacons from desktop agents (steer probe) and web pages (rum.js),
// validates them, anonymizes them at the door and keeps them durably in
// the RUM store. `steer collect --store DIR` runs it.
//
// # Endpoints
//
//	POST /beacon (also /rum/beacon)  one beacon as application/json or text/plain
//	                                 (what navigator.sendBeacon sends), or an
//	                                 application/x-ndjson batch (all or nothing)
//	OPTIONS /beacon                  CORS preflight, for allowed origins
//	GET /rum.js                      the JavaScript beacon (package web)
//	GET /rum/probe                   the probe endpoint (package probe)
//	GET /rum/pops.json               the PoP list agents measure
//	GET /rum/plan.json               the PoP list with the caller's network's measurement
//	                                 plan (plan.go, package measureplan)
//	GET /debug, /debug/page.js       the debug page (package web)
//	POST /debug/report               a debug page's report: stored in Options.DebugDir,
//	                                 answered with its ID (debug.go)
//	GET /debug/report/ID             a stored report, joined with the store's query log
//	                                 (also on the admin listener)
//	POST /querylog                   DNS query log lines (NDJSON, all or nothing)
//	                                 shipped from DNS servers at other PoPs
//	                                 (steer ship), with a query log token
//	GET /metrics                     Prometheus metrics
//	GET /healthz                     "ok", or 503 naming what is wrong
//	GET /v1/store/stats              the store's row counts as JSON (StoreStats)
//
// With an admin listener (Config.Admin, steer collect --admin) /metrics,
// /querylog and /v1/store/stats are served there only, and the public
// listener answers 404 for them; /healthz is on both. Without one,
// /querylog is on the public listener (it has its own tokens) and /metrics
// and /v1/store/stats answer only loopback peers that forward nobody's
// request (no proxy header): an Internet-facing collector does not show
// its metrics to the Internet.
//
// # The store while the collector runs
//
// The collector holds the store: DuckDB lets one process open it for
// writing and then keeps every other process out, readers too. So that
// `steer store stats` still works, the collector announces itself while it
// serves (Options.StoreDir): DIR/collector.json (AnnounceFile) holds its
// pid and the URL of its /v1/store/stats (the admin listener's, else the
// public one's, 0.0.0.0 and :: as 127.0.0.1; with TLS the certificate
// file, which the client pins), written atomically once it listens and
// removed when it stops. A collector killed with SIGKILL leaves the file
// behind; a reader believes it only while that pid runs and, when DuckDB
// names the lock's holder, is that holder (steer store stats also checks
// the pid in the answer).
//
// A beacon is accepted with 200 {"accepted":N}. Every rejection is a 4xx
// whose body names the problem ("beacon: samples[3].rtt_ms: not a number",
// "line 4: ...", "Origin \"https://x\" is not allowed", "body larger than
// 262144 bytes"), counted in steer_collector_rejected_total by reason.
//
// # Who may send
//
// DNS servers shipping query logs use their own tokens (querylog_tokens),
// which may not also be agent tokens: agent tokens ship inside desktop
// apps, and query log lines decide which resolver serves which clients.
//
// Desktop and CLI agents authenticate with a token (Authorization: Bearer).
// Web pages cannot keep a secret, so anonymous beacons are accepted only
// with an Origin from the configured list and only with agent.kind "web".
// Beacons over HTTP never carry client_subnet (package rum's Strict mode
// rejects it): the collector derives the client network from the
// connection, or, when the peer is a trusted proxy, from the rightmost
// address in the proxy header that is not itself a trusted proxy. That
// address must be global: a private, loopback, link-local, multicast,
// unspecified, shared (100.64/10), documentation, benchmarking or reserved
// address, or one with a zone ("fe80::1%eth0"), is no client's network on
// the Internet and is refused (400, steer_collector_rejected_total{reason=
// "address-<kind>"}); it usually means a proxy missing from
// trusted_proxies. The Authorization scheme is case-insensitive ("bearer"
// is "Bearer", RFC 7235).
//
// # The door's plausibility checks
//
// Package rum accepts implausible but well-formed values on purpose (the
// builder's cleaning counts them). Over HTTP the collector also refuses,
// against its own clock, a beacon with a sample older than max_sample_age
// (default 7 days: an agent's queue survives a week offline), further
// ahead than max_sample_ahead (default 5 minutes of clock skew) or with an
// rtt_ms above max_rtt_ms (default 60,000): 400 naming the sample, counted
// as reason "too-old", "future" or "rtt". 0 turns a check off.
//
// # Privacy
//
// The client address is truncated to /24 (IPv4, v4-mapped IPv6) or /56
// (IPv6) before anything else happens to it; only the truncated network is
// stored, logged or used as the rate-limit key. net/http's own error log
// (which prints peers' addresses on TLS errors) goes through Redact.
// test/collect_test.go scans the store, the spool and the logs for full
// addresses after ingest from many clients.
//
// # Durability: group commit and the spool
//
// A request is answered 200 only when its beacons are durable. Requests
// queue for a single commit loop, which commits everything that queued
// while the previous commit ran (up to commit_batch beacons): a lone beacon
// is written at once, a flood in few large commits.
//
// With Options.SpoolDir (steer collect puts it in DIR/spool) a commit is an
// fdatasync'd append to a segment file, and a loader moves spooled beacons
// into the store in large batches; without it, a commit is a store
// transaction. The spool exists because DuckDB is fast at large appends
// and slow at many small durable transactions: committing straight to the
// store capped durable ingest at ~11k beacons/s here, the spool reaches the
// 20k floor (numbers in docs/BENCHMARKS.md). After a crash the loader
// replays the spool from its recorded position; a beacon loaded twice is
// recognized by the store as a duplicate. test/collect_test.go kills a
// collector process with SIGKILL mid-ingest, restarts it and finds every
// acknowledged beacon in the store.
//
// Duplicate deliveries of the same beacon (a retry after a lost answer) are
// answered 200 and stored once (steer_collector_beacons_total{result=
// "duplicate"}).
//
// Query log lines (POST /querylog) take the same durable path through a
// spool of their own (SpoolDir/querylog): acknowledged once fdatasync'd,
// loaded into the store by its own loader, replayed after a crash.
//
// # Faults
//
// Every wait of a request is bounded by commit_timeout (default 5 s) and
// its own context: a request that cannot queue or whose commit does not
// finish in time (a stalled disk) is answered 503 with Retry-After. A
// failed spool write or fdatasync, a full disk included, is answered 503
// ("no space left for the spool") and acknowledges nothing; the spool
// recovers once the fault clears (see spool.go: failed writes are cut off,
// a failed rotation is retried, a full disk is freed as the loader
// deletes loaded segments). A line of a spool segment that cannot be
// decoded is moved to quarantine.ndjson in the spool directory, with its
// segment and offset, logged and counted, and loading goes on after it. A
// failing store does not stop the loader either: it retries every load
// interval, and /healthz answers 503 naming the spool, the backlog and
// the last error once the loader has been behind for max_load_lag (default
// 1 minute) or has stopped.
//
// # Limits
//
// Bodies are capped (max_body, default 256 KiB). Each client network has a
// token bucket, on by default: rate 10 beacons/s, burst 100 (an agent
// sends one beacon per measurement round, so a /24 of busy users stays far
// below; 100 lets an agent send a backlog as one batch). Past it the
// answer is 429 with Retry-After saying when the bucket holds enough; a
// batch larger than the burst can never pass and gets 413. The public
// listener takes at most max_conns connections (default 4096; past it a
// connection waits in the accept queue and idle keep-alive connections
// are closed to make room), request headers must arrive within
// read_header_timeout (5 s: slowloris), idle connections are closed after
// idle_timeout (60 s), a request must be read within 30 s and headers are
// capped at 16 KiB.
//
// # Metrics
//
//	steer_collector_requests_total{code}
//	steer_collector_rejected_total{reason}
//	steer_collector_beacons_total{result="stored"|"duplicate"}
//	steer_collector_samples_total
//	steer_collector_store_errors_total
//	steer_collector_request_duration_seconds
//	steer_collector_commit_duration_seconds, steer_collector_commit_beacons
//	steer_collector_spool_backlog_bytes{spool="beacons"|"querylog"}
//	steer_collector_spool_load_lag_seconds{spool}
//	steer_collector_spool_errors_total{spool,op}
//	steer_collector_spool_quarantined_total{spool}
//	steer_collector_querylog_requests_total{code}, steer_collector_querylog_lines_total
//
// The collector links DuckDB (cgo) through the store: it is analytics-side,
// never imported by the data plane.
package collector
