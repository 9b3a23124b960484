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
//	POST /querylog                   DNS query log lines (NDJSON, all or nothing)
//	                                 shipped from DNS servers at other PoPs
//	                                 (steer ship), with a query log token
//	GET /metrics, /healthz
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
// address in the proxy header that is not itself a trusted proxy.
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
// # Limits
//
// Bodies are capped (max_body, default 256 KiB); each client network has a
// token bucket (rate beacons/s, burst) answered with 429 and Retry-After.
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
//	steer_collector_spool_backlog_bytes
//
// The collector links DuckDB (cgo) through the store: it is analytics-side,
// never imported by the data plane.
package collector
