import { z } from "zod";
import { OUTCOME_KINDS } from "../request";
import { type LoadReport, REPORT_SCHEMA } from "./model";

/** The JSON report text. NaN (no samples) becomes null, as JSON has no NaN. */
export function renderJson(report: LoadReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const maybe = z.number().nullable();
const summary = z.object({
  count: z.number().int().min(0),
  min: maybe,
  mean: maybe,
  p50: maybe,
  p90: maybe,
  p95: maybe,
  p99: maybe,
  p999: maybe,
  max: maybe,
});
const kinds = z.object(Object.fromEntries(OUTCOME_KINDS.map((k) => [k, z.number().int().min(0)])));
const classSummary = z.object({
  requests: z.number().int().min(0),
  throughputRps: z.number(),
  successRate: z.number().min(0).max(1),
  kinds,
  statuses: z.record(z.string(), z.number().int()),
  shed: z.object({ count: z.number().int(), withRetryAfter: z.number().int(), retryAfterS: summary }),
  latencyMs: z.object({ total: summary, ttfb: summary, ttft: summary, gap: summary, lag: summary }),
  tokensPerS: summary,
  outputTokens: z.number(),
  outputTokensPerS: z.number(),
  router: z.object({ queueMs: summary, overheadMs: summary, cache: z.record(z.string(), z.number().int()) }),
  keepAlives: z.number().int(),
});
const tri = z.object({ p50: maybe, p90: maybe, p99: maybe });

/** The JSON report's schema, as read back from disk (nulls where the run had no samples). */
const loadReportJsonSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  meta: z.object({
    scenario: z.string(),
    description: z.string(),
    load: z.string(),
    loadShape: z.object({ kind: z.enum(["open", "closed"]) }).loose(),
    baseUrl: z.string(),
    startedAt: z.iso.datetime(),
    sendPhaseS: z.number(),
    elapsedS: z.number(),
    stoppedBy: z.enum(["duration", "max-requests", "schedule-end", "aborted"]),
    seed: z.number(),
    limits: z.object({
      durationS: z.number(),
      maxRequests: z.number(),
      maxInFlight: z.number(),
      timeoutS: z.number(),
    }),
    mix: z.object({}).loose(),
    node: z.string(),
  }),
  totals: z.object({
    scheduled: z.number().int(),
    sent: z.number().int(),
    completed: z.number().int(),
    notSent: z.number().int(),
    ok: z.number().int(),
    shed: z.number().int(),
    failed: z.number().int(),
    offeredRps: z.number(),
    throughputRps: z.number(),
    goodputRps: z.number(),
    outputTokensPerS: z.number(),
  }),
  schedule: z.object({ lagMs: summary }),
  overall: classSummary,
  classes: z.record(z.string(), classSummary),
  priorities: z.record(z.string(), classSummary),
  tenants: z.record(z.string(), classSummary),
  series: z.array(
    z.object({
      t: z.number().int().min(0),
      scheduled: z.number().int(),
      sent: z.number().int(),
      completed: z.number().int(),
      kinds,
      outputTokens: z.number(),
      inFlightMax: z.number().int(),
      queuedMax: z.number().int(),
      totalMs: tri,
      ttftMs: tri,
      lagMaxMs: z.number(),
    }),
  ),
  errors: z.array(
    z.object({
      kind: z.enum(OUTCOME_KINDS),
      status: z.number().int(),
      message: z.string(),
      count: z.number().int(),
    }),
  ),
});

/** Problems with a parsed JSON report, one line each; empty when it matches the schema. */
export function reportSchemaProblems(value: unknown): string[] {
  const parsed = loadReportJsonSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}
