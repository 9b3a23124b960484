// debug.js: the debug page (web.DebugHandler serves it at /debug/page.js
// after rum.js's shared measurement code, in the same function, stripped
// the same way: comments only on lines of their own, no block comments).
// It times every PoP of the collector's /rum/pops.json (a warm-up, then
// RUNS requests: the median is shown), the anycast address, runs the
// random-name DNS test, and posts the report to the collector's
// /debug/report, which answers with the stored report and its ID.
var RUNS = 3, TIMEOUT = 5000, DNS_TIMEOUT = 2000;
var collector = ((script && script.getAttribute("data-collector")) || location.origin).replace(/\/+$/, "");
var pagePoP = (script && script.getAttribute("data-pop")) || "";
var results = [];

function $(id) {
	return d.getElementById(id);
}

function el(tag, cls, text) {
	var e = d.createElement(tag);
	if (cls) e.className = cls;
	if (text != null) e.textContent = text;
	return e;
}

function status(text, cls) {
	var s = $("status");
	s.textContent = text;
	s.className = cls || "";
}

function med(a) {
	var s = a.slice().sort(function (x, y) {
		return x - y;
	}), n = s.length;
	return Math.round((n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) * 10) / 10;
}

// fastest is the PoP (not anycast) with the lowest median.
function fastest() {
	var best = null, i, r;
	for (i = 0; i < results.length; i++) {
		r = results[i];
		if (r.label !== "anycast" && r.rtt_ms && (!best || r.median < best.median)) best = r;
	}
	return best ? best.label : "";
}

// render draws the table from results: a bar per target, scaled to the
// slowest median.
function render() {
	var body = $("pops").tBodies[0], max = 0, fast = fastest(), i, r, tr, bar;
	for (i = 0; i < results.length; i++) if (results[i].rtt_ms) max = Math.max(max, results[i].median);
	body.textContent = "";
	for (i = 0; i < results.length; i++) {
		r = results[i];
		tr = el("tr", r.label === fast ? "fastest" : "");
		tr.setAttribute("data-pop", r.label);
		tr.appendChild(el("td", "pop", r.label));
		if (r.rtt_ms) {
			tr.appendChild(el("td", "ms", r.median.toFixed(1) + " ms"));
			bar = el("div", "bar");
			bar.style.width = (max > 0 ? Math.max(1, 100 * r.median / max) : 1) + "%";
			tr.appendChild(el("td", "barcell")).appendChild(bar);
		} else {
			tr.appendChild(el("td", "ms err", r.error || "…"));
			tr.appendChild(el("td", "barcell"));
		}
		tr.appendChild(el("td", "", r.edge_pop || "-"));
		tr.appendChild(el("td", "mono", r.request_id || "-"));
		body.appendChild(tr);
	}
}

// measureOne times one target: a warm-up request opens the connection,
// then RUNS requests run on it.
function measureOne(label, url) {
	var r = {label: label, error: ""};
	results.push(r);
	render();
	function run(i) {
		if (i >= RUNS) return r;
		return get(bust(url), TIMEOUT, true).then(function (m) {
			r.rtt_ms = r.rtt_ms || [];
			r.rtt_ms.push(Math.round(m.rtt * 10) / 10);
			if (m.pop && LABEL.test(m.pop.toLowerCase())) r.edge_pop = m.pop.toLowerCase();
			if (m.id) r.request_id = m.id;
			return run(i + 1);
		});
	}
	return get(bust(url), TIMEOUT, true).then(function () {
		return run(0);
	}).then(function () {
		r.median = med(r.rtt_ms);
		delete r.error;
	}, function () {
		delete r.rtt_ms;
		r.error = "failed";
	}).then(render);
}

function each(list, i) {
	return i < list.length ? measureOne(list[i][0], list[i][1]).then(function () {
		return each(list, i + 1);
	}) : Promise.resolve();
}

function target(r) {
	var t = {label: r.label}, k = ["rtt_ms", "edge_pop", "request_id", "error"], i;
	for (i = 0; i < k.length; i++) if (r[k[i]]) t[k[i]] = r[k[i]];
	return t;
}

function dl(rows) {
	var s = $("summary"), i;
	s.textContent = "";
	for (i = 0; i < rows.length; i++) {
		if (!rows[i][1]) continue;
		s.appendChild(el("dt", "", rows[i][0]));
		s.appendChild(typeof rows[i][1] === "string" ? el("dd", "", rows[i][1]) : rows[i][1]);
	}
}

// show displays the stored report the collector answered.
function show(rep) {
	var m = rep.map, verdict = null;
	$("report-id").textContent = rep.id;
	$("idbox").hidden = false;
	status("Done. Your report is saved.", "done");
	if (m && rep.fastest) {
		verdict = m.network_pop === rep.fastest ? el("dd", "ok", "Your network is sent to the fastest PoP measured.") :
			el("dd", "warn", "Your network is sent to " + (m.network_pop || "the anycast addresses") + ", but " + rep.fastest + " measured fastest.");
	}
	dl([
		["Your network", rep.network],
		["Fastest PoP", rep.fastest ? rep.fastest + " (" + rep.pops.filter(function (p) {
			return p.label === rep.fastest;
		})[0].median_ms.toFixed(1) + " ms)" : "none answered"],
		["Map: your network", m ? (m.network_pop || "anycast") + " (" + m.network_source + ")" : ""],
		["Map: your resolver", m && m.resolver_pop ? m.resolver_pop + " (" + m.resolver_source + ")" : ""],
		["Verdict", verdict],
		["Anycast answered by", rep.anycast && rep.anycast.edge_pop],
		["DNS test", rep.dns_test],
		["Page served by", pagePoP]
	]);
	w.steerDebugReport = rep;
	d.documentElement.setAttribute("data-state", "done");
}

function fail(msg) {
	status("Could not save the report: " + msg, "error");
	d.documentElement.setAttribute("data-state", "error");
}

function main() {
	var list, anycast, zone, dnsName = "";
	limit(TIMEOUT, function (signal) {
		return fetch(collector + "/rum/pops.json", {mode: "cors", credentials: "omit", signal: signal}).then(function (r) {
			return r.json();
		});
	}).then(function (j) {
		var targets = [], i, p;
		for (i = 0; j.pops && i < j.pops.length && targets.length < MAX_POPS; i++) {
			p = j.pops[i];
			if (p && LABEL.test(p.label) && p.label !== "anycast" && p.url) targets.push([p.label, p.url]);
		}
		anycast = j.anycast;
		zone = j.rum_zone;
		list = targets;
		status("Measuring " + targets.length + " PoPs…");
		if (!zone) return;
		dnsName = rnd(12) + "." + zone;
		// the lookup is what counts, not the answer: wait for it briefly
		return get("https://" + dnsName + "/rum/probe", DNS_TIMEOUT, false).then(null, noop);
	}).then(function () {
		return each(list, 0);
	}).then(function () {
		if (anycast) return measureOne("anycast", anycast);
	}).then(function () {
		var rep = {v: 1, pops: [], user_agent: nav.userAgent.slice(0, 512)}, i;
		if (pagePoP) rep.page_pop = pagePoP;
		if (dnsName) rep.dns_test = dnsName;
		for (i = 0; i < results.length; i++) {
			if (results[i].label === "anycast") rep.anycast = target(results[i]);
			else rep.pops.push(target(results[i]));
		}
		status("Saving the report…");
		return fetch(collector + "/debug/report", {method: "POST", mode: "cors", credentials: "omit", headers: {"Content-Type": "text/plain"}, body: JSON.stringify(rep)});
	}).then(function (r) {
		return r.ok ? r.json() : r.text().then(function (t) {
			throw new Error(t || r.status);
		});
	}).then(show, function (e) {
		fail(String(e && e.message || e));
	});
}

try {
	if (!w.fetch || !w.Promise || !perf) status("This browser cannot run the check (no fetch).", "error");
	else main();
} catch (e) {
	fail(String(e));
}
