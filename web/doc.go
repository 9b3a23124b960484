// Package web holds steer's JavaScript real-user-measurement beacon, rum.js
// (docs/DESIGN.md, "Probe"), and serves it: RUMJS returns the script
// and Handler serves it at /rum.js with caching and gzip. The collector
// mounts Handler; the beacons the script sends are ordinary beacons
// (docs/DESIGN.md, "Beacons") that rum.ParseBeacon(body, rum.Strict, &b)
// accepts. The package exports no metrics.
//
// # What rum.js does
//
// After the page's load event and an idle period (requestIdleCallback,
// or 500 ms where there is none), and only for a share `sample` of page
// views, rum.js:
//
//  1. gets the PoP list: the configured array, or the JSON document at the
//     configured URL (the collector's /rum/pops.json,
//     {"pops":[{"label":"fra","url":"https://…/rum/probe"}],"anycast":"https://…/rum/probe"});
//     labels that the collector would reject (not 1..32 of [a-z0-9-]) are
//     skipped, and at most 64 PoPs are measured. When the document has a
//     "plan" object (the collector's /rum/plan.json with a plan: section:
//     {"plan":{"network":"203.0.113.0/24","pops":["fra","ams"],"next_s":300}}),
//     only the PoPs it names are measured (all of them if it names none),
//     and next_s is kept in localStorage ("steerRUM.next"): page views
//     before then do not measure at all (see package measureplan);
//  2. runs the random-name DNS test: fetches the dnsTest template with
//     {name} replaced by 12 random [a-z0-9] characters, in no-cors mode (the
//     response does not matter, the authoritative server's log of the
//     lookup does), and records the host name in dns_test;
//  3. measures each PoP, then the anycast address, one after another (so
//     that no probe competes with another for the user's link): two GETs
//     of url + "?r=" + random with {mode: "cors", cache: "no-store",
//     credentials: "omit"}, each limited to `timeout` ms; for the anycast
//     target, the X-Edge-PoP response header becomes served_by;
//  4. sends one beacon with navigator.sendBeacon(collector, Blob(json,
//     text/plain)), text/plain being a CORS-safelisted type, so there is no
//     preflight. If the page is hidden or unloaded first, the beacon goes
//     out then with the samples measured so far. A beacon without samples
//     is not sent (the format requires at least one).
//
// The beacon is
//
//	{"v":1,"agent":{"kind":"web","platform":"linux","timer":"performance"},
//	 "dns_test":"k3f9q2x7w1ab.rum.example.net",
//	 "samples":[{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4},
//	            {"ts":"2026-11-21T10:00:01.456Z","target":"anycast","probe":"https","rtt_ms":31,"served_by":"ams"}]}
//
// with no client_subnet (the collector derives it from the connection).
// platform comes from navigator.userAgentData.platform or a coarse parse
// of the user agent (windows, macos, linux, android, ios, chromeos) and is
// left out when neither says. probe is "https" for an https URL and "http"
// otherwise; the builder counts only https samples by default, so a page
// that probes plain-HTTP PoPs measures nothing that counts. A target whose
// fetch fails, times out or answers a non-2xx status has no sample.
//
// rum.js never throws into the page: its work runs inside try/catch and
// promise chains that end in a no-op rejection handler, and it is written
// in ES5 syntax, so a browser without fetch, URL, sendBeacon or Resource
// Timing parses it and does nothing, rather than reporting a syntax error.
//
// # What rtt_ms means
//
// rtt_ms is the time to first byte of a request on an open connection:
// PerformanceResourceTiming.responseStart - requestStart of the second of
// two back-to-back requests to the PoP, in milliseconds rounded to 0.1.
// That is one network round trip to the PoP plus the probe endpoint's
// (negligible) time to answer. Agents that time their own requests
// (steer probe) should report the same quantity, time to first byte on an
// open connection, so that web and desktop samples of a network compare.
//
// The first request is a warm-up and is not reported. It pays for DNS,
// TCP and TLS, and it leaves the connection open for the second (the
// browser reuses it because the warm-up's body has been read and both use
// the same credentials mode; the browser test checks that both arrive on
// one connection). responseStart - requestStart already leaves out
// connection setup on an HTTP/1.1 or HTTP/2 connection, but a first
// request still runs on a cold path (a new socket, the server's first
// request on it), QUIC and TLS early data may start the request before the
// handshake ends, and the fall-back below counts everything. Measured here
// (Chromium 156, loopback, a probe answering after 10 ms, 3 page loads of
// 6 requests): the cold request's responseStart - requestStart was 1–8 ms
// above the warm ones', and performance.now() around fetch 2–7 ms above
// Resource Timing. Reporting the warm request, as production beacons do,
// keeps rtt_ms "one round trip" in every case, at the cost of a second
// tiny request per PoP.
//
// Resource Timing gives requestStart and responseStart only when the
// response carries Timing-Allow-Origin for the page's origin, and only
// while the page's resource timing buffer has room. When they are zero or
// the entry is missing, rtt_ms falls back to performance.now() from
// calling fetch to the response headers: on the warm connection still
// about one round trip, plus the browser's own scheduling delay. Both are
// monotonic clocks, hence agent.timer "performance". Browsers coarsen these
// clocks (Chromium: 0.1 ms, 5 µs in cross-origin-isolated pages), well
// under the rounding.
//
// # Configuration
//
// rum.js reads a global object set before the page's load event, and its own
// <script> tag's data-* attributes; an attribute wins over the global:
//
//	<script>
//	window.steerRUM = {
//	  collector: "https://c.example/beacon",     // where beacons go (POST, text/plain)
//	  pops: [{label: "fra", url: "https://fra.example/rum/probe"}], // or a pops.json URL
//	  anycast: "https://any.example/rum/probe",  // optional; overrides pops.json's
//	  rumZone: "rum.example.net",                // DNS test https://{name}.rum.example.net/rum/probe
//	  dnsTest: "https://{name}.rum.example.net/rum/probe", // optional; overrides rumZone's
//	  sample: 1.0,                               // share of page views that measure, 0..1
//	  timeout: 5000                              // ms per request
//	};
//	</script>
//	<script async src="https://c.example/rum.js"></script>
//
// or, equivalently, with attributes (data-pops is a pops.json URL or a JSON
// array):
//
//	<script async src="https://c.example/rum.js" data-collector="https://c.example/beacon"
//	  data-pops="https://c.example/rum/pops.json" data-rum-zone="rum.example.net" data-sample="0.1"></script>
//
// Without collector or pops, rum.js uses the origin it was loaded from:
// collector <origin>/beacon and pops <origin>/rum/plan.json (the PoP list
// with this client's plan, if the collector makes plans), so a
// collector that serves /rum.js, /rum/plan.json and /beacon needs no
// configuration at all in the page. Without rumZone and dnsTest there is
// no DNS test and no dns_test field. The dnsTest template lets tests and
// unusual setups choose scheme and port
// ("http://{name}.rum.example.net:8080/rum/probe").
//
// # What the servers must send
//
// Each PoP's probe endpoint (/rum/probe, and the anycast address's) must
// answer a GET with a 2xx status and
//
//	Access-Control-Allow-Origin: *                (the fetch is CORS, without credentials)
//	Timing-Allow-Origin: *                        (else Resource Timing zeroes requestStart and responseStart)
//	Access-Control-Expose-Headers: X-Edge-PoP, X-Request-ID  (else the script cannot read them: no served_by)
//	X-Edge-PoP: <label>
//	Cache-Control: no-store
//
// and keep the connection open (HTTP keep-alive or HTTP/2), or the warm-up
// is wasted. The request carries no custom header, so there is no
// preflight. The DNS test needs a wildcard certificate for *.<rumZone> on
// the address the RUM zone answers with, for the fetch to succeed, but the
// lookup has happened whether or not it does.
//
// The collector needs no CORS headers for the beacon: sendBeacon with a
// text/plain body is a no-cors request. It does carry an Origin header
// (the page's origin, which the collector may check against its allowed
// origins), a Content-Type of text/plain (possibly with ;charset=UTF-8),
// and cookies for the collector's site if the browser has any (sendBeacon
// always sends credentials; the collector should ignore them and set none).
// Its /rum/pops.json and /rum/plan.json are read by a CORS fetch and need
// Access-Control-Allow-Origin (* is enough).
//
// # The debug page
//
// DebugHandler serves the debug page, /debug and its script
// /debug/page.js, which the collector and (with debug.collector in their
// config) the edges mount. The script is rum.js's shared measurement code
// (the lines between its "debug page shared" markers: fetch timing, time
// limits, cache busting), followed by debug.js and wrapped in one function.
// It reads the collector's /rum/pops.json. It times each PoP and the
// anycast address with a warm-up and then 3 requests, and shows the
// median, the X-Edge-PoP and the X-Request-ID of each. It resolves one
// random name under rum_zone, and posts a DebugReport to the collector's
// /debug/report as text/plain, so there is no preflight. The collector
// answers with the stored report and its ID (NewDebugReportID: 8 Crockford
// base32 characters), which the page shows. ParseDebugReport is the
// report's strict parser. The collector stores the report with the
// client's /24 or /56 only, and steer debug show prints it (Text).
// Package web/debugmap adds the map's answer for the network and the
// resolver. It is apart so that the edge does not link the DNS decision
// code.
//
// # Size
//
// RUMJS is rum.js with comment lines and indentation removed: about 5.1 KB,
// 2.2 KB gzipped (the source, with its comments, is about 7 KB);
// TestRUMJSSize holds the budget. The source stays readable: what a page
// downloads is the gzipped form, and the last kilobyte would need a real
// minifier (renamed identifiers) between the tested source and the page.
package web
