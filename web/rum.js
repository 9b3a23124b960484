// rum.js: steer's real-user-measurement beacon (github.com/steer-gslb/steer).
// It times a round trip to every PoP (or to those the collector's plan for
// the client's network names) and to the anycast address, resolves
// one random name under the RUM zone, and sends one beacon to the collector.
// web/doc.go documents the configuration, what rtt_ms means, and the
// headers the probe endpoints and the collector must send.
//
// Source rules, because web.RUMJS serves this file with comment lines and
// indentation removed: comments only on lines of their own, starting with
// "//"; no block comments; no string spans lines. The syntax is ES5 so that
// old browsers parse it and stop at the feature check instead of reporting
// a syntax error to the page.
(function () {
"use strict";
// From here to the end marker is also the debug page's measurement code:
// web.DebugHandler serves it inside debug.js.
// debug page shared: begin
var w = window, d = document, nav = navigator, perf = w.performance;
var script = d.currentScript;
// A PoP label as the collector accepts it (rum.validLabel).
var LABEL = /^[a-z0-9-]{1,32}$/;
var ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
var MAX_POPS = 64;

function noop() {}

// config merges window.steerRUM with the script tag's data-* attributes
// (data-rum-zone is rumZone); an attribute wins over the global. Defaults
// point at the origin rum.js was loaded from, which is the collector's.
function config() {
	var c = {}, g = w.steerRUM, ds = script && script.dataset, k, base;
	if (g && typeof g === "object") {
		for (k in g) c[k] = g[k];
	}
	if (ds) {
		for (k in ds) c[k] = ds[k];
	}
	if (typeof c.pops === "string" && c.pops.charAt(0) === "[") c.pops = JSON.parse(c.pops);
	base = script && script.src;
	if (base) {
		c.collector = c.collector || abs("/beacon", base);
		c.pops = c.pops || abs("/rum/plan.json", base);
	}
	if (!c.dnsTest && c.rumZone) c.dnsTest = "https://{name}." + c.rumZone + "/rum/probe";
	c.timeout = +c.timeout || 5000;
	c.sample = c.sample == null || c.sample === "" ? 1 : +c.sample;
	return c;
}

function abs(u, base) {
	return new URL(u, base || location.href).href;
}

// rnd returns n random characters of [a-z0-9].
function rnd(n) {
	var s = "", b = w.crypto && w.crypto.getRandomValues ? w.crypto.getRandomValues(new Uint32Array(n)) : null, i;
	for (i = 0; i < n; i++) s += ALNUM.charAt(b ? b[i] % 36 : Math.random() * 36 | 0);
	return s;
}

function platform() {
	var p = (nav.userAgentData && nav.userAgentData.platform) || nav.userAgent || "";
	return /windows/i.test(p) ? "windows" : /iphone|ipad|ipod|ios/i.test(p) ? "ios" :
		/android/i.test(p) ? "android" : /cros|chrome ?os/i.test(p) ? "chromeos" :
		/mac/i.test(p) ? "macos" : /linux/i.test(p) ? "linux" : "";
}

// limit calls f with an AbortSignal (where the browser has one) and fails
// if the promise f returns has not settled within ms milliseconds.
function limit(ms, f) {
	var ac = w.AbortController ? new AbortController() : null;
	return new Promise(function (ok, fail) {
		var timer = setTimeout(function () {
			if (ac) ac.abort();
			fail();
		}, ms);
		f(ac ? ac.signal : undefined).then(function (v) {
			clearTimeout(timer);
			ok(v);
		}, function () {
			clearTimeout(timer);
			fail();
		});
	});
}

// get fetches u (cors: a CORS request whose status and headers are read;
// else no-cors, for the DNS test), reads the body, and resolves to {ts,
// rtt, pop}: the start time, the request's time to first byte (Resource
// Timing, or performance.now() around fetch when its details are zeroed)
// and the X-Edge-PoP and X-Request-ID headers.
function get(u, ms, cors) {
	return limit(ms, function (signal) {
		var ts = new Date().toISOString(), t0 = perf.now(), t1, pop, id;
		return fetch(u, {mode: cors ? "cors" : "no-cors", cache: "no-store", credentials: "omit", signal: signal}).then(function (r) {
			t1 = perf.now();
			if (cors && !r.ok) throw 0;
			pop = r.headers.get("X-Edge-PoP");
			id = r.headers.get("X-Request-ID");
			return r.arrayBuffer();
		}).then(function () {
			var e = perf.getEntriesByName(u, "resource"), rtt = t1 - t0;
			e = e[e.length - 1];
			if (e && e.requestStart > 0 && e.responseStart >= e.requestStart) rtt = e.responseStart - e.requestStart;
			return {ts: ts, rtt: rtt, pop: pop, id: id};
		});
	});
}

function bust(u) {
	return abs(u + (u.indexOf("?") < 0 ? "?" : "&") + "r=" + rnd(10));
}
// debug page shared: end

// later keeps a plan's next_s (s seconds from now, under 35 days) in
// localStorage and reports whether the time kept there has not come yet:
// the collector's plan asked this client not to measure again before it.
function later(s) {
	try {
		var l = w.localStorage, k = "steerRUM.next", n = Date.now();
		if (s > 0 && s < 3e6) l.setItem(k, n + s * 1000);
		return l.getItem(k) > n;
	} catch (e) {}
}

function run(c) {
	var samples = [], dnsName = "", sent = false;

	// send posts the beacon once: at the end, or earlier with what has been
	// measured if the page is hidden or unloaded first.
	function send() {
		var a = {kind: "web"}, p = platform(), b, body;
		if (sent || !samples.length) return;
		sent = true;
		if (p) a.platform = p;
		a.timer = "performance";
		b = {v: 1, agent: a};
		if (dnsName) b.dns_test = dnsName;
		b.samples = samples;
		body = JSON.stringify(b);
		nav.sendBeacon(c.collector, new Blob([body], {type: "text/plain"}));
	}
	function flush(ev) {
		try {
			if (ev.type === "pagehide" || d.visibilityState === "hidden") send();
		} catch (e) {}
	}
	d.addEventListener("visibilitychange", flush);
	w.addEventListener("pagehide", flush);

	// measure times one target: a warm-up request opens the connection
	// (DNS, TCP, TLS), then the measured request runs on it.
	function measure(t) {
		if (sent) return Promise.resolve();
		return get(bust(t[1]), c.timeout, true).then(function () {
			return get(bust(t[1]), c.timeout, true);
		}).then(function (m) {
			var s = {ts: m.ts, target: t[0], probe: /^https:/i.test(abs(t[1])) ? "https" : "http", rtt_ms: Math.round(m.rtt * 10) / 10}, by = (m.pop || "").toLowerCase();
			if (t[0] === "anycast" && LABEL.test(by) && by !== "anycast") s.served_by = by;
			if (!sent && isFinite(s.rtt_ms)) samples.push(s);
		}, noop);
	}
	function each(list, i) {
		return i < list.length ? measure(list[i]).then(function () {
			return each(list, i + 1);
		}) : Promise.resolve();
	}

	var pops = c.pops;
	if (typeof pops === "string") {
		pops = limit(c.timeout, function (signal) {
			return fetch(abs(c.pops), {mode: "cors", credentials: "omit", signal: signal}).then(function (r) {
				return r.json();
			});
		}).then(function (j) {
			// The collector's plan for this client's network (/rum/plan.json):
			// only the PoPs it names (all if it names none: it is advice),
			// and no measuring again before next_s.
			var p = j.plan || {}, k = [].concat(p.pops || []), l = [].concat(j.pops || []), f = l.filter(function (x) {
				return x && k.indexOf(x.label) >= 0;
			});
			c.anycast = c.anycast || j.anycast;
			later(+p.next_s);
			return f.length ? f : l;
		});
	}
	return Promise.resolve(pops).then(function (list) {
		var targets = [], i, p;
		for (i = 0; list && i < list.length && targets.length < MAX_POPS; i++) {
			p = list[i];
			if (p && LABEL.test(p.label) && p.label !== "anycast" && p.url) targets.push([p.label, p.url]);
		}
		if (c.anycast) targets.push(["anycast", c.anycast]);
		if (c.dnsTest) {
			dnsName = rnd(12);
			var u = abs(c.dnsTest.replace("{name}", dnsName));
			dnsName = new URL(u).hostname;
			return get(u, c.timeout, false).then(null, noop).then(function () {
				return each(targets, 0);
			});
		}
		return each(targets, 0);
	}).then(send).then(null, noop);
}

function start() {
	try {
		var c = config();
		if (!c.collector || !(Math.random() < c.sample) || !w.fetch || !nav.sendBeacon || !w.URL || !perf || !perf.getEntriesByName || later()) return;
		run(c);
	} catch (e) {}
}

function idle() {
	try {
		if (w.requestIdleCallback) w.requestIdleCallback(start, {timeout: 3000});
		else setTimeout(start, 500);
	} catch (e) {}
}

try {
	if (d.readyState === "complete") idle();
	else w.addEventListener("load", idle);
} catch (e) {}
})();
