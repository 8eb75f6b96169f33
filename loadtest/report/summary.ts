import type { ClassSummary } from "../metrics";
import { ms, num, pct, textTable } from "./format";
import type { LoadReport } from "./model";

export const CLASS_COLUMNS = [
  "class",
  "n",
  "ok",
  "429 (RA)",
  "err",
  "TTFT p50",
  "TTFT p90",
  "TTFT p99",
  "total p50",
  "total p99",
  "gap p99",
  "tok/s p50",
  "queue p99",
  "cache hit",
] as const;

/** One row of the per-class table, shared by the terminal summary and the HTML report. */
export function classRow(name: string, c: ClassSummary): string[] {
  const l = c.latencyMs;
  const cacheHits = (c.router.cache.HIT ?? 0) + (c.router.cache.COALESCED ?? 0);
  const withHeader = Object.entries(c.router.cache).reduce((s, [k, n]) => (k === "none" ? s : s + n), 0);
  return [
    name,
    num(c.requests, 0),
    pct(c.kinds.ok, c.requests),
    `${c.shed.count} (${c.shed.withRetryAfter})`,
    num(c.requests - c.kinds.ok - c.kinds.shed, 0),
    ms(l.ttft.p50),
    ms(l.ttft.p90),
    ms(l.ttft.p99),
    ms(l.total.p50),
    ms(l.total.p99),
    ms(l.gap.p99),
    num(c.tokensPerS.p50, 0),
    ms(c.router.queueMs.p99),
    withHeader > 0 ? pct(cacheHits, withHeader) : "—",
  ];
}

/** The plain-text summary printed at the end of a run. */
export function renderSummary(report: LoadReport): string {
  const { meta, totals, overall } = report;
  const lag = report.schedule.lagMs;
  const head = [
    `Scenario ${meta.scenario}: ${meta.load} against ${meta.baseUrl}`,
    `Sent ${num(totals.sent, 0)} of ${num(totals.scheduled, 0)} scheduled in ${num(meta.sendPhaseS, 1)} s ` +
      `(offered ${num(totals.offeredRps, 2)} req/s; stopped by ${meta.stoppedBy}; ${num(totals.notSent, 0)} never sent).`,
    `Outcomes: ${num(totals.ok, 0)} ok, ${num(totals.shed, 0)} shed with 429 (${overall.shed.withRetryAfter} with Retry-After), ` +
      `${num(totals.failed, 0)} failed. Throughput ${num(totals.throughputRps, 2)} req/s, goodput ${num(totals.goodputRps, 2)} req/s, ` +
      `${num(totals.outputTokensPerS, 0)} output tokens/s.`,
    `Schedule lag (send time − scheduled time): p50 ${ms(lag.p50)}, p99 ${ms(lag.p99)}, max ${ms(lag.max)}; ` +
      "latencies below are measured from the scheduled time.",
  ];
  const rows = Object.entries(report.classes).map(([k, c]) => classRow(k, c));
  rows.push(classRow("all", overall));
  const sections = [
    head.join("\n"),
    textTable(CLASS_COLUMNS, rows),
    `Status mix: ${statusLine(overall.statuses)}`,
  ];
  if (Object.keys(report.priorities).some((k) => k !== "unset")) {
    sections.push(groupTable("priority", report.priorities));
  }
  if (Object.keys(report.tenants).length > 1) sections.push(groupTable("tenant", report.tenants));
  if (report.errors.length > 0) {
    const lines = report.errors
      .slice(0, 8)
      .map((e) => `  ${e.count}× ${e.kind} ${e.status || "-"}: ${e.message || "(no message)"}`);
    sections.push(`Errors (most frequent first):\n${lines.join("\n")}`);
  }
  return `${sections.join("\n\n")}\n`;
}

export function statusLine(statuses: Record<string, number>): string {
  const entries = Object.entries(statuses).sort(([a], [b]) => Number(a) - Number(b));
  if (entries.length === 0) return "none";
  return entries.map(([s, n]) => `${s === "0" ? "no response" : s}: ${n}`).join(", ");
}

function groupTable(label: string, groups: Record<string, ClassSummary>): string {
  const rows = Object.entries(groups).map(([k, c]) => [
    k,
    num(c.requests, 0),
    pct(c.kinds.ok, c.requests),
    pct(c.kinds.shed, c.requests),
    ms(c.latencyMs.ttft.p99),
    ms(c.latencyMs.total.p99),
    ms(c.router.queueMs.p99),
  ]);
  return textTable([label, "n", "ok", "429", "TTFT p99", "total p99", "queue p99"], rows);
}
