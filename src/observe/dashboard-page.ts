/**
 * The live dashboard: one self-contained page (no CDN, no build step) that polls the router's own
 * JSON endpoints with the router key the viewer types in (or passes once as `#key=`, which never
 * reaches the server). The page holds no data; the key stays in the tab's sessionStorage and only
 * ever goes to this origin.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DeepSeek router — live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #0f1419; color: #d6dde4; }
  header { padding: 12px 20px; background: #17202a; display: flex; gap: 16px; align-items: center; }
  h1 { font-size: 16px; margin: 0; font-weight: 600; }
  input { background: #0f1419; color: inherit; border: 1px solid #34404c; padding: 4px 8px; width: 320px; }
  button { background: #2d6cdf; color: white; border: 0; padding: 5px 12px; cursor: pointer; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
  section { background: #17202a; padding: 12px 16px; border-radius: 6px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #8fa1b3; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; } td, th { padding: 3px 6px; text-align: right; }
  th { color: #8fa1b3; font-weight: 500; } td:first-child, th:first-child { text-align: left; }
  .cards { display: flex; gap: 12px; flex-wrap: wrap; } .card { background: #0f1419; padding: 8px 12px; min-width: 110px; }
  .card b { display: block; font-size: 20px; } .muted { color: #8fa1b3; } .err { color: #ff7b72; }
  svg { width: 100%; height: 140px; background: #0f1419; }
  .bar { background: #0f1419; height: 8px; min-width: 120px; } .bar i { display: block; height: 8px; background: #7ee787; }
  .bar i.hot { background: #ff7b72; }
</style></head>
<body>
<header><h1>DeepSeek router — live</h1>
  <input id="key" type="password" placeholder="router key (sk-…)" autocomplete="off">
  <button id="go">Watch</button><span id="status" class="muted"></span></header>
<main>
  <section><h2>Traffic (this tenant)</h2><div class="cards" id="cards"></div></section>
  <section><h2>Requests per second</h2><svg id="rate" viewBox="0 0 600 140" preserveAspectRatio="none"></svg></section>
  <section><h2>Pools: in flight / limit</h2><table id="pools"></table></section>
  <section><h2>In flight by pool</h2><svg id="inflight" viewBox="0 0 600 140" preserveAspectRatio="none"></svg></section>
  <section><h2>Your latency (last 15 min)</h2><div class="cards" id="latency"></div><svg id="latencyChart" viewBox="0 0 600 140" preserveAspectRatio="none"></svg></section>
  <section><h2>Your limits</h2><table id="limits"></table></section>
  <section><h2>Budget burn (this window)</h2><table id="burn"></table></section>
  <section><h2>Outcomes (last 7 days)</h2><table id="outcomes"></table></section>
  <section><h2>By model (last 7 days)</h2><table id="models"></table></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const keyInput = $("key");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromHash) { sessionStorage.setItem("routerKey", fromHash); window.history.replaceState(null, "", location.pathname); }
keyInput.value = sessionStorage.getItem("routerKey") || "";
const history = { rate: [], pools: {} };
let timer, lastTotals;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const colors = ["#4aa3ff", "#ffb347", "#7ee787", "#ff7b72", "#d2a8ff", "#79c0ff"];
function line(svg, series) {
  const max = Math.max(1, ...series.flatMap((s) => s.points));
  svg.innerHTML = series.map((s, i) => {
    const pts = s.points.map((v, j) => (j * 600 / Math.max(1, s.points.length - 1)).toFixed(1) + "," + (135 - v / max * 125).toFixed(1)).join(" ");
    return '<polyline fill="none" stroke-width="2" stroke="' + colors[i % colors.length] + '" points="' + pts + '"/>' +
      '<text x="' + (6 + i * 120) + '" y="14" fill="' + colors[i % colors.length] + '" font-size="12">' + esc(s.name) + '</text>';
  }).join("") + '<text x="594" y="14" text-anchor="end" fill="#8fa1b3" font-size="11">max ' + max.toFixed(1) + '</text>';
}
function push(list, value) { list.push(value); if (list.length > 150) list.shift(); }
async function get(path) {
  const r = await fetch(path, { headers: { authorization: "Bearer " + keyInput.value } });
  if (!r.ok) throw new Error(path + ": " + r.status + " " + ((await r.json().catch(() => ({}))).error?.message || ""));
  return r.json();
}
async function tick() {
  try {
    const [usage, pools, lat] = await Promise.all([get("/v1/usage"), get("/v1/router/pools"), get("/v1/router/latency?range=15m")]);
    const ms = (v) => v === null ? "—" : v >= 1000 ? (v / 1000).toFixed(2) + " s" : v + " ms";
    const l = lat.latency;
    $("latency").innerHTML = (lat.tracked ? [["TTFT p50", ms(l.ttftP50Ms)], ["TTFT p99", ms(l.ttftP99Ms)], ["total p50", ms(l.totalP50Ms)], ["total p99", ms(l.totalP99Ms)]]
      : [["latency", "not tracked per tenant"]]).map(([k, v]) => '<div class="card"><span class="muted">' + k + '</span><b>' + esc(v) + '</b></div>').join("");
    line($("latencyChart"), [["TTFT p50", "ttftP50Ms"], ["total p50", "totalP50Ms"], ["total p99", "totalP99Ms"]]
      .map(([name, field]) => ({ name: name + " (ms)", points: lat.series.map((p) => p[field] ?? 0) })));
    const lim = lat.limits;
    $("limits").innerHTML = [["in flight per pool", lim.concurrencyPerPool ?? "pool ceiling only"], ["highest priority", lim.maxPriority],
      ["may degrade", lim.allowDegrade ? "yes" : "no"], ["prompt cache", lim.cache + " (" + lim.cacheScope + ")"], ["budget", lat.budget ? ["usdPerDay", "usdPerMonth"].filter((k) => lat.budget[k] !== null).map((k) => "$" + lat.budget[k] + (k === "usdPerDay" ? " / day" : " / month")).join(", ") : "none set"]]
      .map(([k, v]) => "<tr><td>" + esc(k) + "</td><td>" + esc(v) + "</td></tr>").join("");
    const kinds = { requests: "requests / min", tokens: "tokens / min", "usd-day": "$ today (UTC)", "usd-month": "$ this month (UTC)" };
    const amount = (k, v) => k.startsWith("usd") ? "$" + v.toFixed(4) : Math.round(v);
    $("burn").innerHTML = usage.limits.length === 0 ? '<tr><td class="muted">no rate limit or budget set</td></tr>' :
      "<tr><th>limit</th><th>scope</th><th>used</th><th>of</th><th></th><th>resets</th></tr>" + usage.limits.map((b) => {
        const pct = Math.min(100, b.used / b.limit * 100);
        return "<tr><td>" + esc(kinds[b.kind] || b.kind) + "</td><td>" + esc(b.scope) + "</td><td>" + amount(b.kind, b.used) + "</td><td>" +
          amount(b.kind, b.limit) + '</td><td><div class="bar"><i class="' + (pct >= 90 ? "hot" : "") + '" style="width:' + pct.toFixed(1) + '%"></i></div></td><td>' +
          esc(new Date(b.resetsAt).toLocaleString()) + "</td></tr>";
      }).join("");
    const t = usage.totals;
    if (lastTotals) push(history.rate, Math.max(0, (t.requests - lastTotals.requests) / 2));
    lastTotals = t;
    $("cards").innerHTML = [["requests", t.requests], ["prompt tokens", t.promptTokens], ["output tokens", t.completionTokens],
      ["cost $", t.costUsd.toFixed(4)], ["saved by cache $", t.savedUsd.toFixed(4)]]
      .map(([k, v]) => '<div class="card"><span class="muted">' + k + '</span><b>' + esc(v) + '</b></div>').join("");
    line($("rate"), [{ name: "req/s", points: history.rate }]);
    $("pools").innerHTML = "<tr><th>pool</th><th>in flight</th><th>limit</th><th>ceiling</th><th>queued</th></tr>" +
      pools.data.map((p) => "<tr><td>" + esc(p.pool) + "</td><td>" + p.inFlight + "</td><td>" + p.limit + "</td><td>" + p.ceiling + "</td><td>" + p.queued + "</td></tr>").join("");
    for (const p of pools.data) push(history.pools[p.pool] ||= [], p.inFlight);
    line($("inflight"), Object.entries(history.pools).map(([name, points]) => ({ name, points })));
    $("outcomes").innerHTML = "<tr><th>outcome</th><th>requests</th></tr>" +
      Object.entries(usage.byOutcome).map(([k, v]) => "<tr><td>" + esc(k) + "</td><td>" + v + "</td></tr>").join("");
    $("models").innerHTML = "<tr><th>model</th><th>requests</th><th>tokens out</th><th>cost $</th></tr>" +
      usage.byModel.map((m) => "<tr><td>" + esc(m.model) + "</td><td>" + m.requests + "</td><td>" + m.completionTokens + "</td><td>" + m.costUsd.toFixed(4) + "</td></tr>").join("");
    $("status").textContent = "updated " + new Date().toLocaleTimeString(); $("status").className = "muted";
  } catch (e) { $("status").textContent = e.message; $("status").className = "err"; }
}
$("go").onclick = () => { sessionStorage.setItem("routerKey", keyInput.value); clearInterval(timer); tick(); timer = setInterval(tick, 2000); };
if (keyInput.value) $("go").onclick();
</script></body></html>`;
