import type { SecondPoint } from "../metrics";
import { ms, num, pct } from "./format";
import type { LoadReport } from "./model";
import { CLASS_COLUMNS, classRow, statusLine } from "./summary";
import { escapeXml as esc, type LineSeries, lineChart, stackedBarChart } from "./svg";

const COLORS = {
  p50: "#2b6cb0",
  p90: "#d69e2e",
  p99: "#c53030",
  ttft: "#2f855a",
  sent: "#805ad5",
  ok: "#38a169",
  shed: "#dd6b20",
  client: "#b7791f",
  server: "#c53030",
  broken: "#702459",
  transport: "#4a5568",
  inflight: "#3182ce",
  queued: "#e53e3e",
  tokens: "#319795",
};

/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, no network) that opens
 * from disk. The full JSON report is embedded in a `<script type="application/json">` block for tools.
 */
export function renderHtml(report: LoadReport): string {
  const { meta, totals, overall } = report;
  const s = report.series;
  const rows = Object.entries(report.classes).map(([k, c]) => classRow(k, c));
  rows.push(classRow("all", overall));
  const table = `<table><thead><tr>${CLASS_COLUMNS.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows
    .map(
      (r, i) =>
        `<tr${i === rows.length - 1 ? ' class="all"' : ""}>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`,
    )
    .join("")}</tbody></table>`;
  const lag = report.schedule.lagMs;
  const cards = [
    ["requests", num(totals.completed, 0)],
    ["ok", pct(totals.ok, totals.completed)],
    ["429 shed", `${num(totals.shed, 0)} (${overall.shed.withRetryAfter} RA)`],
    ["failed", num(totals.failed, 0)],
    ["offered", `${num(totals.offeredRps, 2)} req/s`],
    ["goodput", `${num(totals.goodputRps, 2)} req/s`],
    ["TTFT p99", ms(overall.latencyMs.ttft.p99)],
    ["total p99", ms(overall.latencyMs.total.p99)],
    ["tokens/s", num(totals.outputTokensPerS, 0)],
    ["lag p99", ms(lag.p99)],
  ]
    .map(([k, v]) => `<div class="card"><div class="k">${esc(k!)}</div><div class="v">${esc(v!)}</div></div>`)
    .join("");
  const data = JSON.stringify(report).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load test: ${esc(meta.scenario)} — ${esc(meta.startedAt)}</title>
<style>${CSS}</style></head>
<body>
<h1>Load test: ${esc(meta.scenario)}</h1>
<p class="meta">${esc(meta.description)}<br>${esc(meta.load)} · target ${esc(meta.baseUrl)} · started ${esc(meta.startedAt)} · sending phase ${num(meta.sendPhaseS, 1)} s, stopped by ${esc(meta.stoppedBy)} · seed ${meta.seed} · node ${esc(meta.node)}</p>
<div class="cards">${cards}</div>
<div class="grid">
<figure>${latencyChart(s)}</figure>
<figure>${throughputChart(s)}</figure>
<figure>${inFlightChart(s)}</figure>
<figure>${statusChart(s)}</figure>
</div>
<h2>Per class</h2>
${table}
<p class="note">Latencies are of successful requests and measured from each request's <em>scheduled</em> send time, so time spent waiting behind a slow server is counted (no coordinated omission). 429 (RA) = shed requests (with a Retry-After header). Status mix: ${esc(statusLine(overall.statuses))}.</p>
${errorsHtml(report)}
<script type="application/json" id="report-data">${data}</script>
</body></html>
`;
}

function latencyChart(s: readonly SecondPoint[]): string {
  const line = (
    name: string,
    color: string,
    pick: (p: SecondPoint) => number | null,
    dashed = false,
  ): LineSeries => ({
    name,
    color,
    dashed,
    points: s.map((p) => [p.t, finite(pick(p))] as const),
  });
  return lineChart(
    [
      line("total p50", COLORS.p50, (p) => p.totalMs.p50),
      line("total p90", COLORS.p90, (p) => p.totalMs.p90),
      line("total p99", COLORS.p99, (p) => p.totalMs.p99),
      line("TTFT p50", COLORS.ttft, (p) => p.ttftMs.p50, true),
      line("TTFT p99", COLORS.p99, (p) => p.ttftMs.p99, true),
    ],
    { title: "Latency percentiles per second (by completion time)", yLabel: "ms", yFormat: shortMs },
  );
}

function throughputChart(s: readonly SecondPoint[]): string {
  return lineChart(
    [
      { name: "sent/s", color: COLORS.sent, points: s.map((p) => [p.t, p.sent] as const) },
      { name: "completed/s", color: COLORS.p50, points: s.map((p) => [p.t, p.completed] as const) },
      { name: "ok/s", color: COLORS.ok, points: s.map((p) => [p.t, p.kinds.ok] as const), dashed: true },
      {
        name: "output tokens/s ÷ 100",
        color: COLORS.tokens,
        points: s.map((p) => [p.t, p.outputTokens / 100] as const),
        dashed: true,
      },
    ],
    { title: "Throughput", yLabel: "per second" },
  );
}

function inFlightChart(s: readonly SecondPoint[]): string {
  return lineChart(
    [
      {
        name: "in flight (max in second)",
        color: COLORS.inflight,
        points: s.map((p) => [p.t, p.inFlightMax] as const),
      },
      {
        name: "waiting for a slot",
        color: COLORS.queued,
        points: s.map((p) => [p.t, p.queuedMax] as const),
        dashed: true,
      },
    ],
    { title: "Concurrency", yLabel: "requests" },
  );
}

function statusChart(s: readonly SecondPoint[]): string {
  const col = (pick: (p: SecondPoint) => number) => s.map(pick);
  return stackedBarChart(
    s.map((p) => p.t),
    [
      { name: "ok", color: COLORS.ok, values: col((p) => p.kinds.ok) },
      { name: "429", color: COLORS.shed, values: col((p) => p.kinds.shed) },
      { name: "4xx", color: COLORS.client, values: col((p) => p.kinds.client_error) },
      { name: "5xx", color: COLORS.server, values: col((p) => p.kinds.server_error) },
      {
        name: "broken stream",
        color: COLORS.broken,
        values: col((p) => p.kinds.truncated + p.kinds.stream_error),
      },
      {
        name: "network/timeout",
        color: COLORS.transport,
        values: col((p) => p.kinds.network_error + p.kinds.timeout),
      },
    ],
    { title: "Status mix per second (by completion time)", yLabel: "responses" },
  );
}

function errorsHtml(report: LoadReport): string {
  if (report.errors.length === 0) return "";
  const items = report.errors
    .slice(0, 12)
    .map(
      (e) =>
        `<li><b>${e.count}×</b> ${esc(e.kind)} ${e.status || "—"}: <code>${esc(e.message || "(no message)")}</code></li>`,
    )
    .join("");
  return `<h2>Errors</h2><ul class="errors">${items}</ul>`;
}

function finite(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

function shortMs(v: number): string {
  return v >= 1000 ? `${num(v / 1000, 1)} s` : `${num(v, 0)}`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1a202c;margin:24px auto;max-width:1340px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#4a5568;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:16px}
.card{border:1px solid #e2e8f0;border-radius:6px;padding:6px 12px;min-width:96px}
.card .k{font-size:11px;color:#718096;text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:18px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
figure{margin:0;border:1px solid #e2e8f0;border-radius:6px;padding:6px}
svg.chart{width:100%;height:auto;display:block}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #edf2f7;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}tr.all td{font-weight:600;border-top:2px solid #cbd5e0}
.note{color:#4a5568;font-size:12px;max-width:1000px}
.errors code{font-size:12px}
`;
