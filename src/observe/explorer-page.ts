/**
 * The request explorer (issue 25): one self-contained page (no CDN, no build step) over
 * `/admin/requests` with the admin key (`/operator/requests`), or over `/v1/requests` with a tenant's
 * own key (`/dashboard/requests`). A filterable list, and a request's page: its decisions, usage, cost,
 * and its timeline as a waterfall. The page holds no data; the key stays in sessionStorage, and one
 * passed as `#key=` never reaches the server.
 */
export function explorerHtml(mode: "admin" | "tenant"): string {
  const api = mode === "admin" ? "/admin/requests" : "/v1/requests";
  const storage = mode === "admin" ? "adminKey" : "tenantKey";
  return PAGE.replace("__API__", api)
    .replace("__STORAGE__", storage)
    .replace("__TITLE__", mode === "admin" ? "operator" : "my")
    .replace(
      "__TENANT__",
      mode === "admin" ? '<input id="tenant" placeholder="tenant" style="width:90px">' : "",
    );
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DeepSeek router — requests</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 0; background: #0f1419; color: #d6dde4; }
  header { padding: 10px 20px; background: #17202a; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  h1 { font-size: 16px; margin: 0 10px 0 0; font-weight: 600; }
  input, select { background: #0f1419; color: inherit; border: 1px solid #34404c; padding: 4px 6px; }
  button { background: #2d6cdf; color: white; border: 0; padding: 5px 12px; cursor: pointer; }
  main { padding: 14px 20px; display: grid; grid-template-columns: max-content minmax(420px, 1fr); gap: 16px; }
  @media (max-width: 1340px) { main { grid-template-columns: minmax(0, 1fr); } }
  section { background: #17202a; padding: 12px 16px; border-radius: 6px; align-self: start; min-width: 0; overflow-x: auto; }
  td.model { max-width: 230px; overflow: hidden; text-overflow: ellipsis; }
  h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #8fa1b3; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; } td, th { padding: 3px 6px; text-align: left; white-space: nowrap; }
  th { color: #8fa1b3; font-weight: 500; } td.n, th.n { text-align: right; }
  tbody tr { cursor: pointer; } tbody tr:hover, tr.sel { background: #223040; }
  .muted { color: #8fa1b3; } .err { color: #ff7b72; } .warn { color: #ffb347; } .ok { color: #7ee787; }
  dl { display: grid; grid-template-columns: 130px 1fr; gap: 2px 10px; margin: 0 0 10px; } dt { color: #8fa1b3; } dd { margin: 0; word-break: break-all; }
  svg { width: 100%; background: #0f1419; }
</style></head>
<body>
<header><h1>DeepSeek router — __TITLE__ requests</h1>
  <input id="key" type="password" placeholder="key" autocomplete="off" style="width:200px">
  <select id="range"><option value="9e5">15 min</option><option value="3.6e6" selected>1 h</option><option value="8.64e7">24 h</option><option value="1.2096e9">14 days</option></select>
  __TENANT__<input id="model" placeholder="model" style="width:130px">
  <select id="outcome"><option value="">any outcome</option><option>complete</option><option>truncated</option><option>failed</option><option>cancelled</option><option>rejected</option></select>
  <input id="status" placeholder="status" style="width:54px">
  <input id="slow_ms" placeholder="slower than ms" style="width:100px">
  <input id="min_cost_usd" placeholder="cost over $" style="width:84px">
  <select id="cache"><option value="">any cache</option><option>HIT</option><option>MISS</option><option>COALESCED</option><option>BYPASS</option><option value="none">not consulted</option></select>
  <input id="request_id" placeholder="x-request-id" style="width:120px">
  <button id="go">Search</button><span id="status-line" class="muted"></span></header>
<main>
  <section><h2>Requests, newest first</h2><table><thead><tr><th>time</th><th>tenant</th><th>model asked → served</th><th class="n">status</th><th>outcome</th><th>cache</th><th class="n">latency ms</th><th class="n">tokens in/out</th><th class="n">cost $</th></tr></thead><tbody id="rows"></tbody></table>
  <p><button id="more" style="display:none">Older</button></p></section>
  <section id="detail"><h2>Request</h2><p class="muted">Pick a request to see its timeline.</p></section>
  <section style="grid-column: 1 / -1"><h2>Prompt-cost insights over the range <button id="insights-go">Analyse</button></h2><div id="insights" class="muted">Prompt families, DeepSeek's cache hit ratio, and advice with what it would save.</div></section>
</main>
<script>
const API = "__API__", STORE = "__STORAGE__";
const $ = (id) => document.getElementById(id);
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("key")) { sessionStorage.setItem(STORE, hash.get("key")); history.replaceState(null, "", location.pathname + (hash.get("id") ? "#id=" + hash.get("id") : "")); }
$("key").value = sessionStorage.getItem(STORE) || "";
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmt = (v, d = 2) => v === undefined || v === null ? "—" : Number(v).toFixed(d);
const FILTERS = ["tenant", "model", "outcome", "status", "slow_ms", "min_cost_usd", "cache", "request_id"];
let after = null, shown = [];
async function get(path) {
  const r = await fetch(path, { headers: { authorization: "Bearer " + $("key").value } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(r.status + " " + (body.error?.message || ""));
  return body;
}
async function search(more) {
  sessionStorage.setItem(STORE, $("key").value);
  const q = new URLSearchParams({ limit: "50", from: String(Date.now() - Number($("range").value)) });
  for (const f of FILTERS) if ($(f) && $(f).value) q.set(f, $(f).value);
  if (more && after) q.set("after", after);
  try {
    const page = await get(API + "?" + q);
    shown = more ? shown.concat(page.data) : page.data; after = page.last_id;
    $("more").style.display = page.has_more ? "" : "none";
    $("rows").innerHTML = shown.map((r, i) => '<tr data-i="' + i + '"><td>' + when(r.at) + "</td><td>" + esc(r.tenant) +
      '</td><td class="model" title="' + esc(r.askedModel + " → " + r.model) + '">' + esc(r.askedModel) + (r.model !== r.askedModel ? " → " + esc(r.model) : "") + '</td><td class="n ' + (r.status >= 500 ? "err" : r.status >= 400 ? "warn" : "ok") + '">' + r.status +
      "</td><td>" + esc(r.outcome) + (r.retries ? ' <span class="warn">↻' + r.retries + "</span>" : "") + (r.degraded ? ' <span class="warn">degraded</span>' : "") + "</td><td>" + esc(r.cache || "—") +
      '</td><td class="n">' + fmt(r.latencyMs, 0) + '</td><td class="n">' + r.usage.promptTokens + " / " + r.usage.completionTokens + '</td><td class="n">' + fmt(r.costUsd, 6) + "</td></tr>").join("") ||
      '<tr><td class="muted" colspan="9">no request matches</td></tr>';
    $("status-line").textContent = shown.length + " shown"; $("status-line").className = "muted";
  } catch (e) {
    // A failed search shows no rows: the ones before it answered another question.
    if (!more) { shown = []; after = null; $("rows").innerHTML = ""; $("more").style.display = "none"; }
    $("status-line").textContent = e.message; $("status-line").className = "err";
  }
}
// Today's requests by their time; older ones (a 14-day range) with their day too.
const when = (at) => { const d = new Date(at); return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" }); };
const COLORS = { admission: "#d2a8ff", attempt: "#4aa3ff", first_token: "#7ee787", fallback: "#ffb347", degrade: "#ffb347", end: "#8fa1b3" };
function waterfall(r) {
  const total = Math.max(1, r.latencyMs); const W = 560, left = 215, rowH = 22; const x = (ms) => left + (W - left - 10) * Math.min(1, ms / total);
  const rows = r.timeline.map((e, i) => {
    const y = 8 + i * rowH; const label = e.kind + (e.pool ? " " + e.pool : "") + (e.status !== undefined && e.kind === "attempt" ? " → " + e.status : "");
    const color = e.kind === "attempt" && e.status !== 200 ? "#ff7b72" : COLORS[e.kind];
    const shape = e.durationMs !== undefined
      ? '<rect x="' + x(e.atMs) + '" y="' + (y + 3) + '" width="' + Math.max(2, x(e.atMs + e.durationMs) - x(e.atMs)) + '" height="12" fill="' + color + '"/>'
      : '<path d="M' + x(e.atMs) + " " + (y + 2) + " l6 7 l-6 7 l-6 -7z" + '" fill="' + color + '"/>';
    const note = (e.durationMs !== undefined ? fmt(e.durationMs, 1) + " ms" : "@" + fmt(e.atMs, 1) + " ms") + (e.reason ? " · " + e.reason : "") + (e.retried ? " · retried" : "");
    return '<text x="4" y="' + (y + 13) + '" fill="#d6dde4" font-size="11">' + esc(label) + "</text>" + shape +
      '<text x="' + Math.min(W - 4, x(e.atMs + (e.durationMs || 0)) + 8) + '" y="' + (y + 13) + '" fill="#8fa1b3" font-size="10"' + (x(e.atMs + (e.durationMs || 0)) > W - 120 ? ' text-anchor="end"' : "") + ">" + esc(note) + "</text>";
  }).join("");
  const h = 16 + r.timeline.length * rowH;
  return '<svg viewBox="0 0 ' + W + " " + h + '" style="height:' + h + 'px"><line x1="' + left + '" y1="0" x2="' + left + '" y2="' + h + '" stroke="#34404c"/>' + rows + "</svg>";
}
function detail(r) {
  const u = r.usage; const k = r.classification || {};
  const rows = [["record", r.id], ["x-request-id", r.requestId], ["time", new Date(r.at).toISOString()], ["tenant / key", r.tenant + (r.keyId ? " / " + r.keyId : "") + (r.endUser ? " · user " + r.endUser : "")],
    ["surface", r.surface + " · " + r.endpoint + (r.stream ? " · stream" : "")], ["model", r.askedModel + " → " + r.model + (r.pool ? " @ " + r.pool : "") + (r.target ? " / " + r.target : "")],
    ["classification", (k.type || "—") + (k.latency ? " · " + k.latency + " · " + k.priority : "") + (k.why ? " — " + k.why : "")], ["route", r.route || "—"],
    ["retries / fallbacks", r.retries + " / " + r.fallbacks + (r.degraded ? " · degraded: " + r.degraded : "")],
    ["outcome", r.status + " " + r.outcome + (r.errorCode ? " · " + r.errorCode : "") + (r.finishReason ? " · " + r.finishReason : "")], ["cache", r.cache || "not consulted"],
    ["tokens", u.promptTokens + " in (" + u.cacheHitTokens + " cache hit, " + u.cacheMissTokens + " miss) · " + u.completionTokens + " out (" + u.reasoningTokens + " reasoning)" + (r.estimated ? " · estimated" : "")],
    ["cost", "$" + fmt(r.costUsd, 8) + (r.savedUsd ? " · saved $" + fmt(r.savedUsd, 8) : "")], ["latency", fmt(r.latencyMs, 1) + " ms" + (r.firstTokenMs !== undefined ? " · first token " + fmt(r.firstTokenMs, 1) + " ms" : "")],
    ["trace", r.trace.traceId + (r.trace.parentSpanId ? " (caller's)" : "")]];
  $("detail").innerHTML = "<h2>Request " + esc(r.id) + "</h2><dl>" + rows.map(([a, b]) => "<dt>" + esc(a) + "</dt><dd>" + esc(b) + "</dd>").join("") + "</dl><h2>Timeline</h2>" + waterfall(r);
  history.replaceState(null, "", location.pathname + "#id=" + r.id);
  if (r.payload) get(API + "/" + encodeURIComponent(r.id) + "/payload").then((p) => {
    const cut = (t) => (t ? " (truncated)" : "");
    $("detail").insertAdjacentHTML("beforeend", "<h2>Prompt" + cut(p.truncated.prompt) + '</h2><pre style="white-space:pre-wrap;max-height:220px;overflow:auto">' + esc(p.prompt) +
      "</pre><h2>Answer" + cut(p.truncated.answer) + '</h2><pre style="white-space:pre-wrap;max-height:220px;overflow:auto">' + esc(p.answer) + "</pre>");
  }).catch(() => {});
}
$("rows").onclick = (e) => { const tr = e.target.closest("tr[data-i]"); if (!tr) return; document.querySelectorAll("tr.sel").forEach((t) => t.classList.remove("sel")); tr.classList.add("sel"); detail(shown[Number(tr.dataset.i)]); };
async function insights() {
  const q = new URLSearchParams({ from: String(Date.now() - Number($("range").value)) });
  if ($("tenant")) { if (!$("tenant").value) { $("insights").textContent = "Name a tenant: insights are per tenant."; return; } q.set("tenant", $("tenant").value); }
  try {
    const r = await get(API + "/insights?" + q);
    const advice = r.advice.length ? "<ul>" + r.advice.map((a) => '<li><b class="ok">save $' + fmt(a.savingsUsd, 6) + "</b> — " + esc(a.message) + "</li>").join("") + "</ul>" : '<p class="muted">No advice: the recorded usage supports none.</p>';
    const families = "<table><tr><th>family</th><th>model</th><th class=n>requests</th><th class=n>distinct prefixes</th><th class=n>prefix tokens</th><th class=n>cache hit</th><th class=n>cost $</th></tr>" +
      r.families.map((f) => "<tr><td>" + esc(f.family) + "</td><td>" + esc(f.model) + '</td><td class="n">' + f.requests + '</td><td class="n">' + f.prefixes + '</td><td class="n">' + f.prefixTokens +
      '</td><td class="n">' + fmt(100 * f.cacheHitRatio, 0) + '%</td><td class="n">' + fmt(f.costUsd, 6) + "</td></tr>").join("") + "</table>";
    $("insights").className = ""; $("insights").innerHTML = "<p>Could save <b>$" + fmt(r.savingsUsd, 6) + "</b> · repeat ratio " + fmt(100 * r.repeats.ratio, 0) + "%</p>" + advice + families;
  } catch (e) { $("insights").textContent = e.message; $("insights").className = "err"; }
}
$("insights-go").onclick = insights;
$("go").onclick = () => search(false); $("more").onclick = () => search(true);
if ($("key").value) { search(false); if (hash.get("insights")) insights(); if (hash.get("id")) get(API + "/" + encodeURIComponent(hash.get("id"))).then(detail).catch(() => {}); }
</script></body></html>`;
