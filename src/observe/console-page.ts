/**
 * The operator console: one self-contained page (no CDN, no build step) that manages tenants, keys,
 * budgets, batches, the cache and alerts through the admin API, with the admin key the viewer types in
 * (kept in sessionStorage, shared with the fleet page at /operator). The page holds no data. Forms are
 * checked in the browser before sending and show the API's own error message; destructive actions ask
 * first; everything is a button, link or form control, and the tabs follow the arrow keys.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DeepSeek router — console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#0f1419;color:#d6dde4}
header{padding:12px 20px;background:#17202a;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
h1{font-size:16px;margin:0;font-weight:600}h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:#8fa1b3;margin:14px 0 8px}
a{color:#79c0ff}input,select{background:#0f1419;color:inherit;border:1px solid #34404c;padding:4px 6px}
input:user-invalid{border-color:#ff7b72}button{background:#2d6cdf;color:#fff;border:0;padding:4px 10px;cursor:pointer;margin:1px}
button.danger{background:#a8322d}button.plain{background:#34404c}button:disabled{opacity:.45;cursor:default}
:focus-visible{outline:2px solid #ffb347;outline-offset:1px}[role=tab][aria-selected=true]{background:#ffb347;color:#111}
main{padding:8px 20px 40px}table{border-collapse:collapse;width:100%}td,th{padding:4px 6px;text-align:left;border-bottom:1px solid #222c36;vertical-align:top}
th{color:#8fa1b3;font-weight:500}.muted{color:#8fa1b3}.err{color:#ff7b72}.ok{color:#7ee787}
form{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;background:#17202a;padding:10px 12px;border-radius:6px}
label{display:flex;flex-direction:column;font-size:12px;color:#8fa1b3;gap:2px}label.row{flex-direction:row;align-items:center;gap:6px}
.bar{background:#222c36;height:6px;width:110px;margin-top:3px}.bar span{display:block;height:6px;background:#4aa3ff}.bar span.hot{background:#ff7b72}
#secret{background:#1d2a1d;border:1px solid #7ee787;padding:10px;margin:10px 0}#secret input{width:420px}
#error{min-height:1.2em;padding:0 20px;margin:8px 0 0}
</style></head>
<body>
<header><h1>DeepSeek router — console</h1><a href="/operator">fleet view</a>
<label class="row">admin key <input id="key" type="password" autocomplete="off" required></label>
<button id="go">Connect</button>
<nav role="tablist" aria-label="Sections">
<button role="tab" data-tab="tenants">Tenants</button><button role="tab" data-tab="keys">Keys</button><button role="tab" data-tab="budgets">Budgets</button><button role="tab" data-tab="batches">Batches</button><button role="tab" data-tab="cache">Cache</button><button role="tab" data-tab="alerts">Alerts</button>
</nav><span id="status" class="muted" role="status"></span></header>
<p id="error" class="err" role="alert"></p>
<main>
<section id="tenants" role="tabpanel" hidden>
<table id="tenant-table"></table>
<h2 id="tenant-form-title">New tenant</h2>
<form id="tenant-form" novalidate>
<label>id <input name="id" required pattern="[A-Za-z0-9_.\\-]{1,64}" title="1-64 of A-Z a-z 0-9 _ . -"></label>
<label>max priority <select name="maxPriority"><option>high</option><option>normal</option><option>low</option></select></label>
<label>concurrency <input name="concurrency" type="number" min="1" step="1"></label>
<label>cache scope <select name="cacheScope"><option value="">(tenant)</option><option>tenant</option><option>shared</option></select></label>
<label>cache <select name="cache"><option value="">(policy)</option><option>on</option><option>deterministic</option><option>off</option></select></label>
<label class="row"><input name="allowDegrade" type="checkbox"> degrade when saturated</label>
<label>requests/min <input name="requestsPerMinute" type="number" min="1" step="1"><small data-burn="requests"></small></label>
<label>tokens/min <input name="tokensPerMinute" type="number" min="1" step="1"><small data-burn="tokens"></small></label>
<label>$ per day <input name="usdPerDay" type="number" min="0.000001" step="any"><small data-burn="usd-day"></small></label>
<label>$ per month <input name="usdPerMonth" type="number" min="0.000001" step="any"><small data-burn="usd-month"></small></label>
<label>max tokens <input name="maxTokens" type="number" min="1" step="1"></label>
<label>lease share <input name="lease" type="number" min="0" max="0.5" step="any" title="0: exact, every request at the tenant's authority; default 0.05"></label>
<label>models (comma) <input name="models" pattern="[A-Za-z0-9_.:\\/\\-]+(, *[A-Za-z0-9_.:\\/\\-]+)*"></label>
<label>origins (comma) <input name="origins" pattern="https?://[^\\s,]+(, *https?://[^\\s,]+)*" title="https://app.example.com, …"></label>
<label>budget alert webhook <input name="alertWebhook" type="url" pattern="https?://.+"></label>
<button type="submit">Save tenant</button><button type="reset" class="plain">Clear</button>
</form></section>
<section id="keys" role="tabpanel" hidden>
<form id="key-tenant-form"><label>tenant <select id="key-tenant" required></select></label>
<label>grace for rotations (s) <input id="grace" type="number" min="0" max="604800" step="1" value="3600" required></label></form>
<div id="secret" hidden><b>New secret, shown once:</b> <input id="secret-value" readonly aria-label="new secret"> <button id="copy">Copy</button> <span id="copied" class="ok" role="status"></span></div>
<table id="key-table"></table>
<h2>New key</h2>
<form id="key-form" novalidate>
<label>name <input name="name" required pattern="[\\p{L}\\p{N} _.:@\\/\\-]{1,64}" title="1-64 letters, digits, spaces or _.:@/-"></label>
<label>$ per day <input name="usdPerDay" type="number" min="0.000001" step="any"></label>
<label>requests/min <input name="requestsPerMinute" type="number" min="1" step="1"></label>
<button type="submit">Create key</button></form></section>
<section id="budgets" role="tabpanel" hidden><p class="muted">Every limited counter, closest to its limit first. Used counts what isolates hold on lease (a block of each limit) as well as what is spent.</p><table id="budget-table"></table></section>
<section id="batches" role="tabpanel" hidden>
<form id="batch-tenant-form"><label>tenant <select id="batch-tenant"></select></label></form><table id="batch-table"></table></section>
<section id="cache" role="tabpanel" hidden><table id="cache-table"></table>
<h2>Purge</h2><form id="purge-form" novalidate>
<label>one entry (x-router-cache-key) <input name="key" required pattern="(tenant:[A-Za-z0-9_.\\-]{1,64}|shared):[0-9a-f]{64}" size="50"></label>
<button type="submit" class="danger">Delete entry</button><button type="button" class="danger" id="purge-shared">Purge shared scope</button></form></section>
<section id="alerts" role="tabpanel" hidden><h2>Rules</h2><table id="rule-table"></table><h2>Recent</h2><table id="alert-table"></table></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const enc = encodeURIComponent;
const when = (ms) => ms ? new Date(ms).toLocaleString() : "—";
const money = (v) => v === undefined ? "—" : Number(v).toFixed(4);
const KINDS = { "usd-day": "$/day", "usd-month": "$/month", requests: "req/min", tokens: "tok/min" };
const state = { tenants: [], usage: {}, keys: [] };
const fromHash = new URLSearchParams(location.hash.slice(1));
if (fromHash.get("key")) { sessionStorage.setItem("adminKey", fromHash.get("key")); history.replaceState(null, "", location.pathname); }
$("key").value = sessionStorage.getItem("adminKey") || "";

async function api(method, path, body) {
  const headers = { authorization: "Bearer " + $("key").value };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || r.status + " " + r.statusText);
  return data;
}
function say(text, isError) { $("error").textContent = isError ? text : ""; $("status").textContent = isError ? "" : text; }
async function run(task, done) {
  say("working…");
  try { await task(); say(done || "updated " + new Date().toLocaleTimeString()); } catch (e) { say(e.message, true); }
}
function bar(used, limit) {
  const share = limit ? Math.min(1, used / limit) : 0;
  return '<div class="bar" role="img" aria-label="' + Math.round(share * 100) + '% used"><span class="' + (share > 0.8 ? "hot" : "") + '" style="width:' + (share * 100).toFixed(1) + '%"></span></div>';
}
function burnCell(limits, scope, kind) {
  const c = (limits || []).find((l) => l.scope === scope && l.kind === kind);
  if (!c) return '<td class="muted">—</td>';
  // Dollars to a tenth of the smallest budget's scale: a $0.0006 budget reads 0.00048, not 0.00.
  const digits = kind.startsWith("usd") ? Math.max(2, Math.min(8, 2 - Math.floor(Math.log10(c.limit)))) : 0;
  return "<td>" + Number(c.used).toFixed(digits) + " / " + c.limit + bar(c.used, c.limit) + "</td>";
}

// Tabs: click, or arrow keys along the tab list; the hash remembers the tab.
const tabs = [...document.querySelectorAll("[role=tab]")];
function openTab(name, focus) {
  for (const t of tabs) { const on = t.dataset.tab === name; t.setAttribute("aria-selected", on); t.tabIndex = on ? 0 : -1; if (on && focus) t.focus(); }
  for (const s of document.querySelectorAll("[role=tabpanel]")) s.hidden = s.id !== name;
  history.replaceState(null, "", "#" + name);
  if ($("key").value) run(LOADERS[name]);
}
for (const t of tabs) {
  t.addEventListener("click", () => openTab(t.dataset.tab));
  t.addEventListener("keydown", (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key]; if (!step) return;
    e.preventDefault(); openTab(tabs[(tabs.indexOf(t) + step + tabs.length) % tabs.length].dataset.tab, true);
  });
}

async function loadTenants() {
  state.tenants = (await api("GET", "/admin/tenants")).data;
  const usages = await Promise.all(state.tenants.map((t) => api("GET", "/admin/tenants/" + enc(t.id) + "/usage").catch(() => null)));
  state.tenants.forEach((t, i) => { state.usage[t.id] = usages[i]; });
  for (const id of ["key-tenant", "batch-tenant"]) {
    const select = $(id); const keep = select.value;
    select.innerHTML = state.tenants.map((t) => "<option>" + esc(t.id) + "</option>").join("");
    if (keep) select.value = keep;
  }
}
async function showTenants() {
  await loadTenants();
  $("tenant-table").innerHTML = "<tr><th>tenant</th><th>source</th><th>status</th><th>priority</th><th>concurrency</th><th>cache scope</th><th>$/day</th><th>$/month</th><th>req/min</th><th>tok/min</th><th>spent 7 d $</th><th>actions</th></tr>" +
    state.tenants.map((t) => {
      const u = state.usage[t.id] || {}; const pinned = t.source === "config";
      return "<tr><td>" + esc(t.id) + "</td><td>" + esc(t.source) + "</td><td class=" + (t.disabled ? "err>disabled" : "ok>enabled") + "</td><td>" + esc(t.maxPriority) +
        "</td><td>" + esc(t.concurrency ?? "—") + "</td><td>" + esc(t.cacheScope ?? "tenant") + "</td>" +
        ["usd-day", "usd-month", "requests", "tokens"].map((k) => burnCell(u.limits, "tenant", k)).join("") +
        "<td>" + money(u.totals && u.totals.costUsd) + "</td><td>" +
        '<button data-act="edit-tenant" data-id="' + esc(t.id) + '"' + (pinned ? ' disabled title="pinned in ROUTER_TENANTS"' : "") + ">Edit</button>" +
        '<button data-act="toggle-tenant" data-id="' + esc(t.id) + '" class="' + (t.disabled ? "" : "danger") + '"' + (pinned ? " disabled" : "") + ">" + (t.disabled ? "Enable" : "Disable") + "</button>" +
        '<button data-act="tenant-keys" data-id="' + esc(t.id) + '" class="plain">Keys</button></td></tr>';
    }).join("");
}
const LIMIT_FIELDS = ["requestsPerMinute", "tokensPerMinute", "usdPerDay", "usdPerMonth", "maxTokens", "lease"];
function tenantBody(form, editing) {
  const f = form.elements; const num = (n) => f[n].value === "" ? undefined : Number(f[n].value);
  const list = (n) => f[n].value.trim() === "" ? undefined : f[n].value.split(",").map((s) => s.trim()).filter(Boolean);
  // An edit keeps the limits this form does not show (PATCH replaces 'limits' whole); the ones it shows are as typed.
  const limits = editing ? { ...((state.tenants.find((t) => t.id === editing) || {}).limits || {}) } : {};
  for (const n of [...LIMIT_FIELDS, "models", "origins"]) delete limits[n];
  for (const n of LIMIT_FIELDS) if (num(n) !== undefined) limits[n] = num(n);
  if (list("models")) limits.models = list("models");
  if (list("origins")) limits.origins = list("origins");
  const unset = editing ? null : undefined;
  const body = { maxPriority: f.maxPriority.value, allowDegrade: f.allowDegrade.checked, concurrency: num("concurrency") ?? unset,
    cacheScope: f.cacheScope.value || unset, cache: f.cache.value || unset, alertWebhook: f.alertWebhook.value || unset, limits: Object.keys(limits).length ? limits : unset };
  if (!editing) body.id = f.id.value;
  return JSON.parse(JSON.stringify(body, (k, v) => v === undefined ? undefined : v));
}
function editTenant(id) {
  const t = state.tenants.find((x) => x.id === id); const f = $("tenant-form").elements; const l = t.limits || {};
  $("tenant-form").dataset.editing = id; $("tenant-form-title").textContent = "Edit tenant " + id;
  f.id.value = id; f.id.disabled = true; f.maxPriority.value = t.maxPriority; f.allowDegrade.checked = !!t.allowDegrade;
  f.concurrency.value = t.concurrency ?? ""; f.cacheScope.value = t.cacheScope ?? ""; f.cache.value = t.cache ?? ""; f.alertWebhook.value = t.alertWebhook ?? "";
  for (const n of LIMIT_FIELDS) f[n].value = l[n] ?? "";
  f.models.value = (l.models || []).join(", "); f.origins.value = (l.origins || []).join(", "); f.maxPriority.focus();
  const burn = (state.usage[id] || {}).limits || [];
  for (const el of document.querySelectorAll("[data-burn]")) {
    const c = burn.find((x) => x.scope === "tenant" && x.kind === el.dataset.burn);
    el.textContent = c ? "used " + Number(c.used).toFixed(el.dataset.burn.startsWith("usd") ? 4 : 0) + " of " + c.limit : "";
  }
}
$("tenant-form").addEventListener("reset", () => { const form = $("tenant-form"); delete form.dataset.editing;
  for (const el of document.querySelectorAll("[data-burn]")) el.textContent = ""; form.elements.id.disabled = false; $("tenant-form-title").textContent = "New tenant"; });
$("tenant-form").addEventListener("submit", (e) => {
  e.preventDefault(); const form = e.target; if (!form.reportValidity()) return;
  const editing = form.dataset.editing;
  run(async () => {
    if (editing) await api("PATCH", "/admin/tenants/" + enc(editing), tenantBody(form, true));
    else await api("POST", "/admin/tenants", tenantBody(form, false));
    form.reset(); await showTenants();
  }, editing ? "tenant " + editing + " saved" : "tenant created");
});

async function showKeys() {
  if (!state.tenants.length) await loadTenants();
  const tenant = $("key-tenant").value; if (!tenant) return;
  // A secret shown is its tenant's alone: it goes as soon as another tenant's keys are shown.
  if ($("secret").dataset.tenant !== tenant) { $("secret").hidden = true; $("secret-value").value = ""; }
  const [keys, usage] = await Promise.all([api("GET", "/admin/tenants/" + enc(tenant) + "/keys"), api("GET", "/admin/tenants/" + enc(tenant) + "/usage")]);
  state.keys = keys.data; state.usage[tenant] = usage;
  const limitsOf = (id) => ((usage.keys || []).find((k) => k.id === id) || {}).limits || [];
  $("key-table").innerHTML = "<tr><th>name</th><th>id</th><th>secrets</th><th>status</th><th>created</th><th>last used</th><th>$/day</th><th>req/min</th><th>actions</th></tr>" +
    state.keys.map((k) => "<tr><td>" + esc(k.name) + "</td><td><code>" + esc(k.id) + "</code></td><td>" + k.hints.map(esc).join("<br>") + "</td><td class=" + (k.disabled ? "err>disabled" : "ok>enabled") +
      "</td><td>" + when(k.createdAt) + "</td><td>" + when(k.lastUsedAt) + "</td>" + burnCell(limitsOf(k.id), k.id, "usd-day") + burnCell(limitsOf(k.id), k.id, "requests") + "<td>" +
      '<button data-act="rotate-key" data-id="' + k.id + '">Rotate</button>' +
      '<button data-act="toggle-key" data-id="' + k.id + '" class="' + (k.disabled ? "" : "danger") + '">' + (k.disabled ? "Enable" : "Disable") + "</button>" +
      '<button data-act="delete-key" data-id="' + k.id + '" class="danger">Delete</button></td></tr>').join("");
}
function showSecret(secret) {
  $("secret").dataset.tenant = $("key-tenant").value;
  $("secret").hidden = false; $("secret-value").value = secret; $("copied").textContent = ""; $("secret-value").focus(); $("secret-value").select();
}
$("copy").addEventListener("click", async () => {
  const input = $("secret-value"); input.select();
  try { await navigator.clipboard.writeText(input.value); } catch { document.execCommand("copy"); }
  $("copied").textContent = "copied";
});
$("key-tenant").addEventListener("change", () => run(showKeys));
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault(); const form = e.target; if (!form.reportValidity()) return;
  const f = form.elements; const limits = {};
  if (f.usdPerDay.value !== "") limits.usdPerDay = Number(f.usdPerDay.value);
  if (f.requestsPerMinute.value !== "") limits.requestsPerMinute = Number(f.requestsPerMinute.value);
  run(async () => {
    const created = await api("POST", "/admin/tenants/" + enc($("key-tenant").value) + "/keys", { name: f.name.value, ...(Object.keys(limits).length ? { limits } : {}) });
    form.reset(); await showKeys(); showSecret(created.key);
  }, "key created: copy its secret now, it is not shown again");
});

async function showBudgets() {
  await loadTenants();
  const rows = [];
  for (const t of state.tenants) {
    const u = state.usage[t.id]; if (!u) continue;
    for (const l of u.limits || []) rows.push({ who: t.id, l });
    for (const k of u.keys || []) for (const l of k.limits) rows.push({ who: t.id + " / " + k.name, l });
  }
  rows.sort((a, b) => b.l.used / b.l.limit - a.l.used / a.l.limit);
  $("budget-table").innerHTML = rows.length ? "<tr><th>tenant / key</th><th>limit</th><th>used</th><th>of</th><th>remaining</th><th>resets</th></tr>" + rows.map(({ who, l }) =>
    "<tr><td>" + esc(who) + "</td><td>" + esc(KINDS[l.kind] || l.kind) + "</td><td>" + Number(l.used).toFixed(l.kind.startsWith("usd") ? 4 : 0) + bar(l.used, l.limit) + "</td><td>" + l.limit + "</td><td>" + Number(l.remaining).toFixed(l.kind.startsWith("usd") ? 4 : 0) + "</td><td>" + esc(new Date(l.resetsAt).toLocaleString()) + "</td></tr>").join("")
    : '<tr><td class="muted">No tenant or key has a limit.</td></tr>';
}

const OPEN_BATCH = ["validating", "in_progress"];
async function showBatches() {
  if (!state.tenants.length) await loadTenants();
  const tenant = $("batch-tenant").value; if (!tenant) return;
  const list = (await api("GET", "/admin/tenants/" + enc(tenant) + "/batches")).data;
  $("batch-table").innerHTML = list.length ? "<tr><th>batch</th><th>status</th><th>endpoint</th><th>progress</th><th>created</th><th></th></tr>" + list.map((b) => {
    const c = b.request_counts || { total: 0, completed: 0, failed: 0 };
    return "<tr><td><code>" + esc(b.id) + "</code></td><td>" + esc(b.status) + "</td><td>" + esc(b.endpoint) + "</td><td>" + (c.completed + c.failed) + " / " + c.total + (c.failed ? ' <span class="err">(' + c.failed + " failed)</span>" : "") + bar(c.completed + c.failed, c.total) +
      "</td><td>" + when(b.created_at * 1000) + "</td><td>" + (OPEN_BATCH.includes(b.status) ? '<button class="danger" data-act="cancel-batch" data-id="' + esc(b.id) + '">Cancel</button>' : "") + "</td></tr>";
  }).join("") : '<tr><td class="muted">No batches.</td></tr>';
}
$("batch-tenant").addEventListener("change", () => run(showBatches));

async function showCache() {
  const stats = await api("GET", "/admin/cache/stats");
  const cols = Object.keys(stats.total);
  const row = (name, c, purge) => "<tr><td>" + esc(name) + "</td>" + cols.map((k) => "<td>" + (k.endsWith("Usd") ? money(c[k]) : c[k]) + "</td>").join("") + "<td>" + (purge ? '<button class="danger" data-act="purge-tenant" data-id="' + esc(name) + '">Purge</button>' : "") + "</td></tr>";
  $("cache-table").innerHTML = "<tr><th>tenant</th>" + cols.map((k) => "<th>" + esc(k) + "</th>").join("") + "<th></th></tr>" +
    Object.entries(stats.tenants).map(([t, c]) => row(t, c, true)).join("") + row("total", stats.total, false);
}
async function purge(path) {
  let deleted = 0, more = true;
  while (more) { const r = await api("DELETE", path); deleted += r.deleted; more = r.more; }
  await showCache(); return deleted;
}
$("purge-shared").addEventListener("click", () => {
  if (confirm("Purge every entry of the shared cache scope?")) run(async () => say("purged " + await purge("/admin/cache/shared") + " entries"));
});
$("purge-form").addEventListener("submit", (e) => {
  e.preventDefault(); const form = e.target; if (!form.reportValidity()) return;
  if (confirm("Delete cache entry " + form.elements.key.value + "?")) run(async () => { await api("DELETE", "/admin/cache/entries/" + enc(form.elements.key.value)); form.reset(); await showCache(); }, "entry deleted");
});

async function showAlerts() {
  const a = await api("GET", "/admin/alerts");
  $("rule-table").innerHTML = a.rules ? Object.entries(a.rules).map(([k, v]) => "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>").join("") : '<tr><td class="err">' + esc(a.rulesError) + "</td></tr>";
  $("alert-table").innerHTML = a.recent.length ? "<tr><th>when</th><th>kind</th><th>what</th></tr>" + a.recent.map((x) => "<tr><td>" + when(x.at) + "</td><td>" + esc(x.kind) + "</td><td>" + esc(x.summary) + "</td></tr>").join("") : '<tr><td class="muted">No alerts.</td></tr>';
}

const ACTIONS = {
  "edit-tenant": (id) => editTenant(id),
  "tenant-keys": (id) => { $("key-tenant").value = id; openTab("keys", true); },
  "toggle-tenant": (id) => {
    const t = state.tenants.find((x) => x.id === id);
    if (!t.disabled && !confirm("Disable tenant " + id + "? Its keys stop working within " + t.propagationSeconds + " s.")) return;
    run(async () => { await api("PATCH", "/admin/tenants/" + enc(id), { disabled: !t.disabled }); await showTenants(); }, "tenant " + id + (t.disabled ? " enabled" : " disabled"));
  },
  "rotate-key": (id) => {
    const form = $("key-tenant-form"); if (!form.reportValidity()) return;
    const grace = Number($("grace").value);
    if (!confirm("Rotate key " + id + "? The current secret keeps working for " + grace + " s.")) return;
    run(async () => { const r = await api("POST", "/admin/tenants/" + enc($("key-tenant").value) + "/keys/" + id + "/rotate", { graceSeconds: grace }); await showKeys(); showSecret(r.key); }, "rotated: copy the new secret now");
  },
  "toggle-key": (id) => {
    const k = state.keys.find((x) => x.id === id);
    if (!k.disabled && !confirm("Disable key " + k.name + "? It stops working within " + k.propagationSeconds + " s.")) return;
    run(async () => { await api("PATCH", "/admin/tenants/" + enc($("key-tenant").value) + "/keys/" + id, { disabled: !k.disabled }); await showKeys(); }, "key " + (k.disabled ? "enabled" : "disabled"));
  },
  "delete-key": (id) => {
    const k = state.keys.find((x) => x.id === id);
    if (!confirm("Delete key " + k.name + " for good?")) return;
    run(async () => { await api("DELETE", "/admin/tenants/" + enc($("key-tenant").value) + "/keys/" + id); await showKeys(); }, "key deleted");
  },
  "cancel-batch": (id) => {
    if (!confirm("Cancel batch " + id + "?")) return;
    run(async () => { await api("POST", "/admin/tenants/" + enc($("batch-tenant").value) + "/batches/" + enc(id) + "/cancel"); await showBatches(); }, "batch cancelling");
  },
  "purge-tenant": (id) => {
    if (confirm("Purge every cache entry of tenant " + id + "?")) run(async () => say("purged " + await purge("/admin/cache/tenants/" + enc(id)) + " entries"));
  },
};
document.body.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-act]"); if (b) ACTIONS[b.dataset.act](b.dataset.id);
});
const LOADERS = { tenants: showTenants, keys: showKeys, budgets: showBudgets, batches: showBatches, cache: showCache, alerts: showAlerts };
function connect() { sessionStorage.setItem("adminKey", $("key").value); openTab(location.hash.slice(1) in LOADERS ? location.hash.slice(1) : "tenants"); }
$("go").addEventListener("click", () => { if ($("key").reportValidity()) connect(); });
$("key").addEventListener("keydown", (e) => { if (e.key === "Enter") $("go").click(); });
openTab(location.hash.slice(1) in LOADERS ? location.hash.slice(1) : "tenants");
</script></body></html>`;
