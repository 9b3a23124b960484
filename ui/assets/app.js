// steer map explorer. Plain JavaScript over the vendored d3, topojson-client
// and Observable Plot; every number comes from steer ui's JSON API, which
// aggregates server side (package ui).
"use strict";
(async function () {
  const $ = (s) => document.querySelector(s);
  const api = async (path) => {
    const r = await fetch(path);
    if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()).trim());
    return r.json();
  };
  const fmt = (v, d = 1) => (v == null ? "–" : Number(v).toFixed(d));
  const pct = (v) => (v == null ? "–" : (100 * v).toFixed(1) + " %");
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  const summary = await api("api/summary");
  const popColor = Object.fromEntries(summary.pops.map((p) => [p.label, p.color]));
  const popBadge = (l) => (l ? `<span class="pop" style="background:${popColor[l] || "#888"}">${esc(l)}</span>` : "–");
  $("#mapname").textContent = `${summary.map} · version ${summary.mapVersion} · ${summary.networks.toLocaleString()} networks placed by ${summary.placement}` +
    (summary.unplaced ? ` (${summary.unplaced} unplaced)` : "");
  const ui = (window.steerUI = { ready: false, summary });

  // Tabs.
  document.querySelectorAll("header button").forEach((b) =>
    b.addEventListener("click", () => {
      document.querySelectorAll("header button").forEach((x) => x.classList.toggle("on", x === b));
      document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("on", t.id === b.dataset.tab));
      ui.tab = b.dataset.tab;
      if (ui.tab === "hilbert") hilbert.resize();
      if (ui.tab === "eval") evaluation.show();
      if (ui.tab === "world") world.resize();
    })
  );

  // ---- World view: h3 hexagons on a Natural Earth outline. ----
  const world = await (async () => {
    const canvas = $("#map");
    const ctx = canvas.getContext("2d");
    const topo = fetch("vendor/countries-110m.json").then((r) => r.json());
    let W = 0, H = 0, dpr = 1, proj = null, land = null, borders = null;
    let transform = d3.zoomIdentity;
    let hexes = null, hexPaths = null, level = null;
    const levels = {};
    const sourceColor = d3.scaleOrdinal(summary.sources, ["#2e7d32", "#1565c0", "#f9a825", "#ef6c00", "#8e24aa", "#607d8b", "#b0bec5"]);
    const colourers = {
      pop: { f: (h) => popColor[h.pop] || "#999", legend: () => summary.pops.filter((p) => p.networks > 0).map((p) => `<span class="sw" style="background:${p.color}"></span>${esc(p.label)}`).join("") },
      p75: (() => { const s = d3.scaleSequentialSqrt([0, 300], d3.interpolateTurbo).clamp(true); return { f: (h) => (h.p75 == null ? "#bbb" : s(h.p75)), legend: () => ramp(s, "p75 latency (ms, per hexagon, traffic-weighted)", [0, 25, 50, 100, 200, 300]) }; })(),
      samples: (() => { const s = d3.scaleSequentialLog([1, 1e4], d3.interpolateViridis).clamp(true); return { f: (h) => (h.s > 0 ? s(h.s) : "#ccc"), legend: () => ramp(s, "samples (beacons)", [1, 10, 100, 1000, 10000]) }; })(),
      gain: (() => { const s = d3.scaleDiverging([-50, 0, 50], d3.interpolateRdBu).clamp(true); return { f: (h) => (h.gain == null ? "#ccc" : s(h.gain)), legend: () => ramp(s, `gain over ${summary.against} (ms; blue: the map is faster)`, [-50, -20, 0, 20, 50]) }; })(),
      source: { f: (h) => sourceColor(h.src), legend: () => summary.sources.map((s) => `<span class="sw" style="background:${sourceColor(s)}"></span>${s}`).join("") },
    };
    function ramp(scale, title, ticks) {
      const d = scale.domain(), lo = d[0], hi = d[d.length - 1];
      const stops = d3.range(0, 1.0001, 0.1).map((t) => scale(lo + t * (hi - lo)));
      return `${esc(title)}<div class="bar" style="background:linear-gradient(to right,${stops.join(",")})"></div>` +
        `<div style="display:flex;justify-content:space-between;width:220px">${ticks.map((t) => `<span>${t}</span>`).join("")}</div>`;
    }
    const resSel = $("#res");
    summary.resolutions.forEach((r) => resSel.insertAdjacentHTML("beforeend", `<option value="${r}">h3 res ${r}</option>`));
    function wantedRes() {
      if (resSel.value !== "auto") return +resSel.value;
      const k = transform.k, rs = summary.resolutions;
      const i = k < 2.5 ? 1 : k < 7 ? 2 : 3;
      return rs[Math.min(i, rs.length - 1)];
    }
    async function loadLevel(res) {
      if (!levels[res]) levels[res] = api(`api/hexes?res=${res}`);
      const data = await levels[res];
      if (res !== wantedRes()) return; // a newer zoom asked for another
      level = res; hexes = data.cells; hexPaths = null;
      $("#csv").href = `export/hexes.csv?res=${res}`; $("#geojson").href = `export/hexes.geojson?res=${res}`;
      draw();
    }
    function resize() {
      const r = canvas.getBoundingClientRect();
      if (!r.width) return;
      dpr = window.devicePixelRatio || 1; W = r.width; H = r.height;
      canvas.width = W * dpr; canvas.height = H * dpr;
      proj = d3.geoNaturalEarth1().fitExtent([[10, 10], [W - 10, H - 10]], { type: "Sphere" });
      hexPaths = null; landPath = null;
      draw();
    }
    let landPath = null, popPts = null;
    function path2d(geo) { const p = new Path2D(); d3.geoPath(proj, p)(geo); return p; }
    function draw() {
      if (!proj) return;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = "#dfe7ef"; ctx.fillRect(0, 0, W, H);
      ctx.translate(transform.x, transform.y); ctx.scale(transform.k, transform.k);
      const lw = 1 / transform.k;
      if (land && !landPath) landPath = { land: path2d(land), borders: path2d(borders), sphere: path2d({ type: "Sphere" }) };
      if (landPath) {
        ctx.fillStyle = "#eef1f4"; ctx.fill(landPath.sphere);
        ctx.fillStyle = "#fbfbf8"; ctx.fill(landPath.land);
      }
      if (hexes) {
        if (!hexPaths) hexPaths = hexes.map((h) => path2d({ type: "Polygon", coordinates: [h.b.concat([h.b[0]]).reverse()] }));
        const c = colourers[$("#colour").value];
        for (let i = 0; i < hexes.length; i++) { ctx.fillStyle = c.f(hexes[i]); ctx.fill(hexPaths[i]); }
        if (ui.selected) {
          const i = hexes.findIndex((h) => h.h === ui.selected);
          if (i >= 0) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2.5 * lw; ctx.stroke(hexPaths[i]); }
        }
        $("#legend").innerHTML = c.legend();
      }
      if (landPath) { ctx.strokeStyle = "rgba(90,100,120,.45)"; ctx.lineWidth = lw; ctx.stroke(landPath.borders); }
      // PoPs: a disc sized by traffic share, ringed by state; plan sites as stars.
      for (const p of summary.pops) {
        if (p.state === "unknown") continue;
        const xy = proj([p.lon, p.lat]); if (!xy) continue;
        const r = (4 + 30 * Math.sqrt(p.share)) * lw;
        ctx.beginPath(); ctx.arc(xy[0], xy[1], r, 0, 2 * Math.PI);
        ctx.fillStyle = p.color; ctx.fill();
        ctx.lineWidth = 2 * lw; ctx.strokeStyle = { up: "#fff", drain: "#ff9800", down: "#d32f2f", anycast: "#7d3c98" }[p.state] || "#fff"; ctx.stroke();
        ctx.fillStyle = "#1d2330"; ctx.font = `${11 * lw}px system-ui`; ctx.fillText(p.label, xy[0] + r + 2 * lw, xy[1] + 4 * lw);
      }
      for (const s of planSites) {
        const xy = proj(s.coordinates); if (!xy) continue;
        ctx.fillStyle = "#000"; ctx.font = `${16 * lw}px system-ui`; ctx.fillText("★", xy[0] - 6 * lw, xy[1] + 6 * lw);
        ctx.font = `${11 * lw}px system-ui`; ctx.fillText(`+${s.rank} ${s.name}`, xy[0] + 8 * lw, xy[1] + 4 * lw);
      }
      $("#status").textContent = level == null ? "loading…" : `h3 resolution ${level} · ${hexes.length.toLocaleString()} hexagons · zoom ${transform.k.toFixed(1)}×`;
    }
    let planSites = [];
    const zoom = d3.zoom().scaleExtent([1, 60]).on("zoom", (e) => {
      transform = e.transform;
      draw();
      if (wantedRes() !== level) loadLevel(wantedRes());
    });
    d3.select(canvas).call(zoom).on("dblclick.zoom", null);
    // A click (not a drag) selects the hexagon under the pointer.
    canvas.addEventListener("click", (e) => {
      ui.clickStart = performance.now();
      const r = canvas.getBoundingClientRect();
      const [x, y] = transform.invert([e.clientX - r.left, e.clientY - r.top]);
      const ll = proj.invert([x, y]);
      if (ll && isFinite(ll[0])) select(ll[1], ll[0]);
    });
    async function select(lat, lon) {
      const det = $("#detail");
      try {
        const c = await api(`api/cell?res=${level}&lat=${lat}&lon=${lon}`);
        ui.selected = c.h; draw();
        det.innerHTML = `<h3>hexagon ${c.h} <span class="muted">(res ${c.res}, ${esc(c.cc)})</span></h3>
          <p>${c.n.toLocaleString()} networks · weight ${fmt(c.w, 0)} · p75 ${fmt(c.p75)} ms · gain over ${esc(summary.against)} ${fmt(c.gain)} ms · ${fmt(c.s, 0)} samples</p>
          <p>${c.pops.map((p) => `${popBadge(p.pop)} ${pct(p.share)}`).join(" ")}</p>
          <table><thead><tr><th>network</th><th>PoP</th><th>source</th><th class="num">samples</th><th class="num">ms</th><th>${esc(summary.against)}</th><th class="num">ms</th></tr></thead><tbody>
          ${c.networks.map((n) => `<tr class="click" data-net="${esc(n.net)}"><td>${esc(n.net)}</td><td>${popBadge(n.pop)}</td><td>${esc(n.source)}</td><td class="num">${fmt(n.samples, 0)}</td><td class="num">${fmt(n.latA)}</td><td>${popBadge(n.popB)}</td><td class="num">${fmt(n.latB)}</td></tr>`).join("")}
          </tbody></table>${c.more ? `<p class="muted">… and ${c.more} more</p>` : ""}<div id="netdetail"></div>`;
        det.querySelectorAll("tr.click").forEach((tr) => tr.addEventListener("click", () => explainNet(tr.dataset.net)));
        ui.cell = c;
        // From the click to the panel drawn (for the benchmark).
        ui.clickMs = performance.now() - (ui.clickStart || 0);
        ui.clicks = (ui.clicks || 0) + 1;
      } catch (err) {
        ui.selected = null; draw();
        det.innerHTML = `<p class="muted">${esc(err.message)}</p>`;
        ui.cell = null;
      }
    }
    async function explainNet(net) {
      const box = $("#netdetail");
      box.innerHTML = `<p class="muted">explaining ${esc(net)}…</p>`;
      const n = await api(`api/network?net=${encodeURIComponent(net)}`);
      const x = n.explain;
      let html = `<div class="explain"><h4>${esc(n.net)}</h4>`;
      if (n.rtts.length) html += `<p>build's estimate (weight ${fmt(n.weight, 0)}): ${n.rtts.map((r) => `${popBadge(r.pop)} ${fmt(r.rttMs)} ms`).join(" ")}</p>`;
      if (x) {
        const entry = x.ecsEntry || x.resolverEntry;
        html += `<p>answer: ${x.pops.length ? popBadge(x.pops[0]) : "default (anycast)"} by <b id="rule">${esc(x.source)}</b>` +
          (entry ? ` · entry <code>${esc(entry.prefix || "")}</code> (${esc(entry.origin || "map")})` : "") + ` · scope /${x.scope}</p>`;
        if (x.geo) html += `<p>GeoIP: ${esc(x.geo.country || "")} ${fmt(x.geo.lat, 2)}, ${fmt(x.geo.lon, 2)}, nearest ${popBadge(x.geo.nearest)}</p>`;
        if (x.estimates && x.estimates.length) html += `<table><thead><tr><th>PoP</th><th class="num">samples</th><th class="num">p75 ms</th></tr></thead><tbody>` +
          x.estimates.map((e) => `<tr><td>${popBadge(e.pop)}</td><td class="num">${e.samples}</td><td class="num">${fmt(e.p75Ms)}</td></tr>`).join("") +
          `</tbody></table><p class="muted">samples per PoP in the store for ${esc(x.estimateNetwork)}</p>`;
        if (x.skipped && x.skipped.length) html += `<p>skipped: ${x.skipped.map((s) => `${esc(s.pop)} (${esc(s.reason)})`).join(", ")}</p>`;
      } else if (n.explainError) html += `<p class="muted">${esc(n.explainError)}</p>`;
      box.innerHTML = html + "</div>";
      ui.explained = n;
    }
    // The PoP table.
    $("#pops tbody").innerHTML = summary.pops.filter((p) => p.state !== "unknown").map((p) =>
      `<tr><td>${popBadge(p.label)} ${esc(p.city || "")}</td><td class="state-${p.state}">${p.state}</td><td class="num">${pct(p.share)}</td><td class="num">${p.networks.toLocaleString()}</td></tr>`).join("");
    $("#colour").addEventListener("change", draw);
    resSel.addEventListener("change", () => loadLevel(wantedRes()));
    window.addEventListener("resize", () => { if (ui.tab === undefined || ui.tab === "world") resize(); });
    // Start: outline and hexagons together, then mark the page ready.
    const [t] = await Promise.all([topo, (async () => { resize(); await loadLevel(wantedRes()); })()]);
    land = topojson.feature(t, t.objects.land); borders = topojson.mesh(t, t.objects.countries, (a, b) => a !== b);
    landPath = null;
    if (summary.hasPlan) {
      try {
        const plan = await api("api/plan");
        planSites = plan.features.filter((f) => f.properties.kind === "site").map((f) => ({ coordinates: f.geometry.coordinates, rank: f.properties.rank, name: f.properties.name }));
      } catch (e) { /* shown in the evaluation tab */ }
    }
    draw();
    return {
      resize, draw, select, explainNet,
      // project returns the page (CSS pixel) position of a place, for tests and links.
      project(lon, lat) { const r = canvas.getBoundingClientRect(); const p = transform.apply(proj([lon, lat])); return [r.left + p[0], r.top + p[1]]; },
      setColour(c) { $("#colour").value = c; draw(); },
      // zoomTo centres lon, lat at zoom k.
      zoomTo(lon, lat, k) {
        const p = proj([lon, lat]);
        d3.select(canvas).call(zoom.transform, d3.zoomIdentity.translate(W / 2 - k * p[0], H / 2 - k * p[1]).scale(k));
      },
      level: () => level,
    };
  })();
  ui.world = world;

  // ---- The IPv4 space on a Hilbert curve: server-rendered 256px tiles. ----
  const hilbert = (() => {
    const canvas = $("#hcanvas"), ctx = canvas.getContext("2d");
    const T = 256, MAXZ = 6;
    let W = 0, H = 0, dpr = 1, z = 0, ox = 0, oy = 0; // ox, oy: the map pixel at the canvas's top left
    const cache = new Map();
    if (!summary.hasChange) $('#hmode option[value="change"]').textContent = "change (needs --against)";
    function tile(mode, tz, tx, ty) {
      const k = `${mode}/${tz}/${tx}/${ty}`;
      let img = cache.get(k);
      if (!img) {
        img = new Image(); img.onload = draw; img.src = `tiles/${k}.png`;
        cache.set(k, img);
      }
      return img;
    }
    function resize() {
      const r = canvas.getBoundingClientRect();
      if (!r.width) return;
      dpr = window.devicePixelRatio || 1; W = r.width; H = r.height;
      canvas.width = W * dpr; canvas.height = H * dpr;
      if (!ui.hilbertPlaced) { z = 1; const n = T << z; ox = (n - W) / 2; oy = (n - H) / 2; ui.hilbertPlaced = true; }
      draw();
    }
    function draw() {
      if (!W) return;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.fillStyle = "#20242c"; ctx.fillRect(0, 0, W, H);
      const mode = $("#hmode").value, n = 1 << z;
      for (let ty = Math.max(0, Math.floor(oy / T)); ty < Math.min(n, Math.ceil((oy + H) / T)); ty++)
        for (let tx = Math.max(0, Math.floor(ox / T)); tx < Math.min(n, Math.ceil((ox + W) / T)); tx++) {
          const img = tile(mode, z, tx, ty);
          if (img.complete && img.naturalWidth) ctx.drawImage(img, tx * T - ox, ty * T - oy);
        }
      $("#hzoom").textContent = `zoom ${z}: one pixel = ${z >= 4 ? "a /24" : "/" + (24 - 2 * (4 - z)) + " block"}`;
      legend();
    }
    function legend() {
      const mode = $("#hmode").value;
      let items = [];
      if (mode === "pop") items = summary.pops.filter((p) => p.networks > 0).map((p) => [p.color, p.label]);
      if (mode === "source") items = hilbertSourceColours;
      if (mode === "change") items = [["#9e9e9e", "same"], ["#e53935", "changed"], ["#1e88e5", "only in " + summary.map], ["#43a047", "only in " + summary.against]];
      $("#hlegend").innerHTML = items.map(([c, l]) => `<span class="sw" style="background:${c}"></span>${esc(l)}`).join("");
    }
    const hilbertSourceColours = summary.sources.filter((s) => s !== "fallback").map((s, i) => [["#2e7d32", "#1565c0", "#f9a825", "#ef6c00", "#8e24aa", "#607d8b"][i], s]);
    function zoomAt(nz, px, py) {
      nz = Math.max(0, Math.min(MAXZ, nz)); if (nz === z) return;
      const f = Math.pow(2, nz - z);
      ox = (ox + px) * f - px; oy = (oy + py) * f - py; z = nz; draw();
    }
    canvas.addEventListener("wheel", (e) => { e.preventDefault(); const r = canvas.getBoundingClientRect(); zoomAt(z + (e.deltaY < 0 ? 1 : -1), e.clientX - r.left, e.clientY - r.top); }, { passive: false });
    let drag = null;
    canvas.addEventListener("mousedown", (e) => (drag = [e.clientX, e.clientY]));
    window.addEventListener("mouseup", () => (drag = null));
    canvas.addEventListener("mousemove", async (e) => {
      if (drag) { ox -= e.clientX - drag[0]; oy -= e.clientY - drag[1]; drag = [e.clientX, e.clientY]; draw(); return; }
      const r = canvas.getBoundingClientRect();
      const px = Math.floor(ox + e.clientX - r.left), py = Math.floor(oy + e.clientY - r.top);
      if (px < 0 || py < 0 || px >= T << z || py >= T << z) return;
      try {
        const a = await api(`hilbert/at?mode=${$("#hmode").value}&z=${z}&x=${px}&y=${py}`);
        $("#hover").textContent = `${a.network}: ${a.label || "–"}${a.cells > 1 ? ` (${a.filled} of ${a.cells} /24s in the map)` : ""}`;
      } catch (err) { /* the pointer left the square */ }
    });
    $("#hmode").addEventListener("change", draw);
    return {
      resize, draw,
      // locate shows the /24 of ip at zoom nz centred, and returns its page position.
      async locate(ip, nz) {
        const w = await api(`hilbert/where?ip=${encodeURIComponent(ip)}&z=${nz}`);
        z = nz; ox = w.x - Math.floor(W / 2); oy = w.y - Math.floor(H / 2); draw();
        const r = canvas.getBoundingClientRect();
        const cell = Math.max(1, 1 << (nz - 4));
        return [r.left + (w.x - ox) + cell / 2, r.top + (w.y - oy) + cell / 2];
      },
      // view shows the whole square at zoom nz, centred.
      view(nz) { z = nz; const n = T << z; ox = (n - W) / 2; oy = (n - H) / 2; draw(); },
      tilesLoaded() { for (const img of cache.values()) if (!img.complete) return false; return true; },
      setMode(m) { $("#hmode").value = m; draw(); },
    };
  })();
  ui.hilbert = hilbert;

  // ---- Evaluation: the per-user gain distribution and regional tables. ----
  const evaluation = (() => {
    let ev = null, shown = false;
    async function show() {
      if (!summary.hasEval) { $("#evalmsg").textContent = "The evaluation needs a simulated world's truth: start steer ui with --truth."; }
      else if (!ev) {
        ev = await api("api/eval");
        $("#gainover").innerHTML = ev.gains.map((g, i) => `<option value="${i}">${esc(g.over)}</option>`).join("");
        $("#gainover").addEventListener("change", plot);
        $("#gainzoom").addEventListener("change", plot);
        table();
      }
      if (ev) plot();
      if (summary.hasPlan && !shown) showPlan();
      shown = true;
      ui.evalShown = true;
    }
    function plot() {
      const g = ev.gains[+$("#gainover").value];
      const [lo, hi] = $("#gainzoom").value.split(",").map(Number);
      const pts = g.x.map((x, i) => ({ x: x + 0.25, y: g.share[i] / 0.5 })).filter((d) => d.x >= lo && d.x <= hi);
      const same = g.share[Math.round((0 - g.x[0]) / 0.5)] + (g.share[Math.round((-0.5 - g.x[0]) / 0.5)] || 0);
      $("#readings").innerHTML = `${pct(same)} of traffic within 0.5 ms of ${esc(g.over)} (mostly the same PoP). Mean gain <b>${fmt(g.mean)} ms</b>. Share of traffic the map makes at least <b>2 ms</b> faster: <b>${pct(g.over2)}</b>, ` +
        `<b>20 ms</b>: <b>${pct(g.over20)}</b>, <b>200 ms</b>: <b>${pct(g.over200)}</b>; at least 2 ms slower: <b>${pct(g.worse2)}</b>.`;
      const el = Plot.plot({
        width: Math.min(1100, $(".evalwrap").clientWidth - 20), height: 320, marginLeft: 60,
        x: { label: `gain over ${g.over} (ms; latency under ${g.over} − under the map)`, domain: [lo, hi] },
        y: { label: "share of traffic per ms (square-root scale)", grid: true, type: "sqrt" },
        marks: [
          Plot.areaY(pts, { x: "x", y: "y", fill: "#4e79a7", fillOpacity: 0.35, curve: "step" }),
          Plot.lineY(pts, { x: "x", y: "y", stroke: "#4e79a7", curve: "step" }),
          Plot.ruleX([2, 20, 200].filter((v) => v >= lo && v <= hi), { stroke: "#e15759", strokeDasharray: "4,3" }),
          Plot.text([2, 20, 200].filter((v) => v >= lo && v <= hi), { x: (d) => d, frameAnchor: "top", dy: 6, dx: 4, textAnchor: "start", text: (d) => d + " ms", fill: "#e15759" }),
          Plot.ruleX([0]), Plot.ruleY([0]),
        ],
      });
      $("#gainplot").replaceChildren(el);
    }
    function table() {
      const head = `<tr><th>region</th><th class="num">traffic</th>${ev.strategies.map((s) => `<th class="num" colspan="3">${esc(s)} p50 / p75 / p95</th>`).join("")}</tr>`;
      const rows = ev.regions.map((r) => `<tr${r.kind === "world" ? ' style="font-weight:600"' : ""}><td>${r.kind === "country" ? "&nbsp;&nbsp;" : ""}${esc(r.name)}</td><td class="num">${pct(r.weight)}</td>` +
        r.p.map((p) => p.map((v) => `<td class="num">${fmt(v)}</td>`).join("")).join("") + "</tr>");
      $("#regions").innerHTML = `<thead>${head}</thead><tbody>${rows.join("")}</tbody>`;
    }
    async function showPlan() {
      const plan = await api("api/plan");
      const sites = plan.features.filter((f) => f.properties.kind === "site");
      let html = `<h3>Planner: new sites</h3><table><thead><tr><th>rank</th><th>site</th><th>country</th></tr></thead><tbody>` +
        sites.map((f) => `<tr><td>+${f.properties.rank}</td><td>${esc(f.properties.name)}</td><td>${esc(f.properties.country || "")}</td></tr>`).join("") + "</tbody></table>";
      $("#planbox").innerHTML = html;
      if (plan.curve) {
        const el = Plot.plot({
          width: 640, height: 260, marginLeft: 60, x: { label: "number of PoPs" }, y: { label: plan.curve_label || "mean loss", grid: true },
          marks: [Plot.lineY(plan.curve, { x: "pops", y: "loss", stroke: "kind", marker: "circle" })], color: { legend: true },
        });
        $("#planbox").append(el);
      }
    }
    return { show };
  })();

  // ---- Debug reports (steer debug show, in the browser). ----
  $("#debugform").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { $("#debugout").textContent = JSON.stringify(await api(`api/debug/${encodeURIComponent($("#debugid").value.trim())}`), null, 2); }
    catch (err) { $("#debugout").textContent = err.message; }
  });
  if (location.hash.startsWith("#debug=")) {
    $("#debugid").value = location.hash.slice(7);
    document.querySelector('header button[data-tab="debug"]').click();
    $("#debugform").requestSubmit();
  }

  ui.ready = true;
  document.body.dataset.ready = "1";
})().catch((e) => {
  document.body.dataset.error = e.message;
  document.body.insertAdjacentHTML("afterbegin", `<p style="color:#c00;padding:8px">${e.message}</p>`);
});
