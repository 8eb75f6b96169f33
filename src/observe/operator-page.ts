/**
 * The operator dashboard: one self-contained page (no CDN, no build step) that polls
 * `/metrics/series` with the admin key the viewer types in (or passes once as `#key=` in the URL,
 * which never reaches the server). The page holds no data; the key stays in sessionStorage.
 */
export const OPERATOR_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DeepSeek router — operator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #0f1419; color: #d6dde4; }
  header { padding: 12px 20px; background: #17202a; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
  h1 { font-size: 16px; margin: 0; font-weight: 600; }
  input, select { background: #0f1419; color: inherit; border: 1px solid #34404c; padding: 4px 8px; }
  input { width: 260px; }
  button { background: #2d6cdf; color: white; border: 0; padding: 5px 12px; cursor: pointer; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
  section { background: #17202a; padding: 12px 16px; border-radius: 6px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #8fa1b3; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; } td, th { padding: 3px 6px; text-align: right; }
  th { color: #8fa1b3; font-weight: 500; } td:first-child, th:first-child { text-align: left; }
  .cards { display: flex; gap: 10px; flex-wrap: wrap; } .card { background: #0f1419; padding: 8px 12px; min-width: 112px; }
  .card b { display: block; font-size: 20px; } .muted { color: #8fa1b3; } .err { color: #ff7b72; } .warn { color: #ffb347; }
  svg { width: 100%; height: 150px; background: #0f1419; }
  .bar { background: #0f1419; height: 10px; position: relative; min-width: 120px; }
  .bar span { position: absolute; left: 0; top: 0; bottom: 0; background: #4aa3ff; }
  .bar i { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #ffb347; }
</style></head>
<body>
<header><h1>DeepSeek router — operator</h1><a href="/operator/console" style="color:#79c0ff">console: tenants, keys, budgets</a>
  <input id="key" type="password" placeholder="admin key" autocomplete="off">
  <select id="range"><option>5m</option><option selected>15m</option><option>1h</option><option>6h</option><option>24h</option></select>
  <button id="go">Watch</button><span id="status" class="muted"></span></header>
<main>
  <section class="wide"><h2>Fleet, over the range</h2><div class="cards" id="cards"></div></section>
  <section><h2>Requests per second by outcome</h2><svg id="rate" viewBox="0 0 600 150" preserveAspectRatio="none"></svg></section>
  <section><h2>Latency p50 / p99 (s)</h2><svg id="latency" viewBox="0 0 600 150" preserveAspectRatio="none"></svg></section>
  <section><h2>Upstream 429 / 5xx per second, sheds, retries</h2><svg id="upstream" viewBox="0 0 600 150" preserveAspectRatio="none"></svg></section>
  <section><h2>Queue depth by pool</h2><svg id="queue" viewBox="0 0 600 150" preserveAspectRatio="none"></svg></section>
  <section><h2>Pools now: in flight against limit</h2><table id="pools"></table></section>
  <section><h2>Cache hit rate</h2><svg id="cache" viewBox="0 0 600 150" preserveAspectRatio="none"></svg></section>
  <section><h2>Cost and savings (USD per slot)</h2><svg id="cost" viewBox="0 0 600 150" preserveAspectRatio="none"></svg></section>
  <section><h2>Top tenants</h2><table id="tenants"></table></section>
  <section class="wide"><h2>Spend against the upstream's books</h2><p id="books" class="muted">not reconciled yet</p></section>
  <section class="wide"><h2>Recent alerts</h2><table id="alerts"></table></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const fromHash = new URLSearchParams(location.hash.slice(1));
if (fromHash.get("key")) { sessionStorage.setItem("adminKey", fromHash.get("key")); window.history.replaceState(null, "", location.pathname); }
if (fromHash.get("range")) $("range").value = fromHash.get("range");
$("key").value = sessionStorage.getItem("adminKey") || "";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const colors = ["#7ee787", "#ff7b72", "#ffb347", "#4aa3ff", "#d2a8ff", "#79c0ff", "#f0883e"];
const RANGES = { "5m": 3e5, "15m": 9e5, "1h": 3.6e6, "6h": 2.16e7, "24h": 8.64e7 };
const fmt = (v, d = 2) => v === null || v === undefined || Number.isNaN(v) ? "—" : Number(v).toFixed(d);
function quantile(bounds, counts, q) {
  const total = counts.reduce((a, b) => a + b, 0); if (!total) return null;
  const rank = q * total; let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (seen + n >= rank && n > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lo = i ? bounds[i - 1] : 0; return lo + (bounds[i] - lo) * ((rank - seen) / n);
    }
    seen += n;
  }
  return bounds[bounds.length - 1];
}
function chart(svg, series, opts = {}) {
  const n = Math.max(2, ...series.map((s) => s.points.length));
  const max = opts.max || Math.max(1e-9, ...series.flatMap((s) => s.points.filter((v) => v !== null)));
  svg.innerHTML = series.map((s, i) => {
    const color = s.color || colors[i % colors.length];
    const pts = s.points.map((v, j) => v === null ? null : (j * 600 / (n - 1)).toFixed(1) + "," + (145 - v / max * 125).toFixed(1)).filter(Boolean).join(" ");
    return '<polyline fill="none" stroke-width="2" stroke="' + color + '" points="' + pts + '"/>' +
      '<text x="' + (6 + i * 92) + '" y="13" fill="' + color + '" font-size="11">' + esc(s.name) + '</text>';
  }).join("") + '<text x="594" y="26" text-anchor="end" fill="#8fa1b3" font-size="10">max ' + fmt(max, opts.digits ?? 2) + '</text>' +
    '<text x="4" y="148" fill="#8fa1b3" font-size="10">' + esc(axis) + '</text><text x="596" y="148" text-anchor="end" fill="#8fa1b3" font-size="10">now</text>';
}
/** The range's slots oldest first, gaps as null; leading empty slots are dropped so fresh data is not a sliver. */
function filled(data) {
  const out = []; const byStart = new Map(data.slots.map((s) => [s.start, s]));
  const end = data.now - (data.now % data.slotMs); const count = Math.min(360, Math.ceil(RANGES[data.range] / data.slotMs));
  for (let t = end - (count - 1) * data.slotMs; t <= end; t += data.slotMs) out.push(byStart.get(t) || null);
  const first = out.findIndex((s) => s !== null);
  return first > 1 ? out.slice(first - 1) : out;
}
function ago(ms) { return ms >= 3.6e6 ? (ms / 3.6e6).toFixed(1) + " h" : ms >= 6e4 ? Math.round(ms / 6e4) + " min" : Math.round(ms / 1e3) + " s"; }
let axis = "";
const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
let timer;
async function tick() {
  try {
    const r = await fetch("/metrics/series?range=" + $("range").value, { headers: { authorization: "Bearer " + $("key").value } });
    if (!r.ok) throw new Error(r.status + " " + ((await r.json().catch(() => ({}))).error?.message || ""));
    const d = await r.json(); const slots = filled(d); const secs = d.slotMs / 1000; const B = d.latencyBuckets;
    axis = "−" + ago(slots.length * d.slotMs);
    // The newest slot is still filling: its rates are over the seconds it has had, not a whole slot.
    const per = (s, n) => n / Math.max(1, Math.min(secs, (d.now - s.start) / 1000));
    const live = d.slots; const total = live.reduce((n, s) => n + sum(s.requests), 0);
    const merge = (key) => live.reduce((acc, s) => acc.map((v, i) => v + (s[key][i] || 0)), B.map(() => 0).concat([0]));
    const ttft = merge("ttft"), dur = merge("duration");
    const errors = live.reduce((n, s) => n + s.errors, 0), hits = live.reduce((n, s) => n + s.cacheHits, 0), looks = live.reduce((n, s) => n + s.cacheLookups, 0);
    const cost = live.reduce((n, s) => n + s.costUsd, 0), saved = live.reduce((n, s) => n + s.savedUsd, 0);
    const u429 = live.reduce((n, s) => n + s.upstream429, 0), u5xx = live.reduce((n, s) => n + s.upstream5xx, 0), ups = live.reduce((n, s) => n + s.upstream, 0);
    $("cards").innerHTML = [["requests", total], ["5xx rate", total ? fmt(100 * errors / total, 1) + "%" : "—"],
      ["TTFT p50 / p99", fmt(quantile(B, ttft, .5)) + " / " + fmt(quantile(B, ttft, .99)) + " s"],
      ["latency p50 / p99", fmt(quantile(B, dur, .5)) + " / " + fmt(quantile(B, dur, .99)) + " s"],
      ["upstream 429 / 5xx", ups ? fmt(100 * u429 / ups, 1) + "% / " + fmt(100 * u5xx / ups, 1) + "%" : "—"],
      ["cache hit rate", looks ? fmt(100 * hits / looks, 1) + "%" : "—"], ["cost $", fmt(cost, 4)], ["saved $", fmt(saved, 4)]]
      .map(([k, v]) => '<div class="card"><span class="muted">' + k + '</span><b>' + esc(v) + '</b></div>').join("");
    const outcomes = [...new Set(live.flatMap((s) => Object.keys(s.requests)))].sort();
    chart($("rate"), outcomes.map((o) => ({ name: o, points: slots.map((s) => s ? per(s, s.requests[o] || 0) : 0) })));
    chart($("latency"), [
      { name: "TTFT p50", points: slots.map((s) => s && quantile(B, s.ttft, .5)) }, { name: "TTFT p99", points: slots.map((s) => s && quantile(B, s.ttft, .99)) },
      { name: "total p50", points: slots.map((s) => s && quantile(B, s.duration, .5)) }, { name: "total p99", points: slots.map((s) => s && quantile(B, s.duration, .99)) }]);
    chart($("upstream"), [
      { name: "429/s", points: slots.map((s) => s ? per(s, s.upstream429) : 0) }, { name: "5xx/s", points: slots.map((s) => s ? per(s, s.upstream5xx) : 0) },
      { name: "sheds/s", points: slots.map((s) => s ? per(s, s.sheds) : 0) }, { name: "retries/s", points: slots.map((s) => s ? per(s, s.retries) : 0) }]);
    const poolNames = d.pools.map((p) => p.pool);
    chart($("queue"), poolNames.map((p) => ({ name: p, points: slots.map((s) => s && s.pools[p] ? s.pools[p].queued : null) })), { digits: 0 });
    $("pools").innerHTML = "<tr><th>pool</th><th>in flight</th><th>limit</th><th>ceiling</th><th>queued</th><th></th></tr>" + d.pools.map((p) =>
      "<tr><td>" + esc(p.pool) + "</td><td>" + p.inFlight + "</td><td>" + p.limit + "</td><td>" + p.ceiling + "</td><td>" + p.queued +
      '</td><td><div class="bar"><span style="width:' + Math.min(100, 100 * p.inFlight / Math.max(1, p.ceiling)) + '%"></span><i style="left:' + Math.min(100, 100 * p.limit / Math.max(1, p.ceiling)) + '%"></i></div></td></tr>').join("");
    chart($("cache"), [{ name: "hit %", points: slots.map((s) => s && s.cacheLookups ? 100 * s.cacheHits / s.cacheLookups : null) }], { max: 100, digits: 0 });
    chart($("cost"), [{ name: "cost $", points: slots.map((s) => s ? s.costUsd : 0) }, { name: "saved $", points: slots.map((s) => s ? s.savedUsd : 0) }], { digits: 4 });
    const tenants = {}; for (const s of live) for (const [t, v] of Object.entries(s.tenants)) { const e = tenants[t] ||= { requests: 0, costUsd: 0 }; e.requests += v.requests; e.costUsd += v.costUsd; }
    $("tenants").innerHTML = "<tr><th>tenant</th><th>requests</th><th>req/s</th><th>cost $</th></tr>" + Object.entries(tenants).sort((a, b) => b[1].requests - a[1].requests).slice(0, 10)
      .map(([t, v]) => "<tr><td>" + esc(t) + "</td><td>" + v.requests + "</td><td>" + fmt(v.requests / (slots.length * secs), 2) + "</td><td>" + fmt(v.costUsd, 4) + "</td></tr>").join("");
    $("alerts").innerHTML = d.alerts.length ? "<tr><th>when</th><th>kind</th><th>what</th></tr>" + d.alerts.slice(0, 10).map((a) =>
      "<tr><td>" + new Date(a.at).toLocaleTimeString() + '</td><td class="warn">' + esc(a.kind) + '</td><td style="text-align:left">' + esc(a.summary) + "</td></tr>").join("") : '<tr><td class="muted">none</td></tr>';
    const b = d.reconciliation;
    const judged = b && b.upstreamUsd >= (b.judgedFromUsd || 0);
    $("books").textContent = b ? "since " + new Date(b.from).toLocaleString() + ": upstream billed $" + fmt(b.upstreamUsd, 4) + ", router recorded $" + fmt(b.recordedUsd, 4) +
      (judged ? ", drift " + fmt(100 * b.drift, 1) + "%" : ", drift judged once the upstream has billed $" + fmt(b.judgedFromUsd, 2) + " (its balance is read to the cent)") : "not reconciled yet";
    $("books").className = judged && Math.abs(b.drift) > 0.05 ? "warn" : "muted";
    $("status").textContent = "updated " + new Date().toLocaleTimeString(); $("status").className = "muted";
  } catch (e) { $("status").textContent = e.message; $("status").className = "err"; }
}
function watch() { sessionStorage.setItem("adminKey", $("key").value); clearInterval(timer); tick(); timer = setInterval(tick, 2000); }
$("go").onclick = watch; $("range").onchange = watch;
if ($("key").value) watch();
</script></body></html>`;
