import type { HistogramSummary } from "../histogram";
import type { ClassMetrics, ClassSummary, SecondPoint } from "../metrics";
import type { MixConfig } from "../mix";
import type { ErrorSample, RunResult, StopReason } from "../runner";
import { describeLoad, type LoadShape } from "../scenarios";

/** Bumped on any incompatible change to the JSON report. */
export const REPORT_SCHEMA = "deepseek-router/loadtest-report@1";

/** The JSON report. Every percentile is null (NaN in memory) when it has no samples. */
export interface LoadReport {
  schema: typeof REPORT_SCHEMA;
  meta: {
    scenario: string;
    description: string;
    load: string;
    loadShape: LoadShape;
    baseUrl: string;
    startedAt: string;
    sendPhaseS: number;
    elapsedS: number;
    stoppedBy: StopReason;
    seed: number;
    limits: { durationS: number; maxRequests: number; maxInFlight: number; timeoutS: number };
    mix: MixConfig;
    node: string;
  };
  totals: {
    scheduled: number;
    sent: number;
    completed: number;
    notSent: number;
    ok: number;
    shed: number;
    failed: number;
    /** Scheduled per second of the sending phase: the load asked for. */
    offeredRps: number;
    /** Completed per second of the sending phase, whatever the outcome. */
    throughputRps: number;
    /** Successful per second of the sending phase. */
    goodputRps: number;
    outputTokensPerS: number;
  };
  /** How late requests left compared with their schedule (coordinated-omission check). */
  schedule: { lagMs: HistogramSummary };
  overall: ClassSummary;
  classes: Record<string, ClassSummary>;
  priorities: Record<string, ClassSummary>;
  tenants: Record<string, ClassSummary>;
  series: SecondPoint[];
  errors: ErrorSample[];
}

/** The report of a finished run. Pure apart from reading `process.version`. */
export function buildReport(result: RunResult): LoadReport {
  const { scenario, metrics } = result;
  const phase = result.sendPhaseS;
  const perS = (n: number) => (phase > 0 ? n / phase : 0);
  const overall = metrics.overall.summary(phase);
  return {
    schema: REPORT_SCHEMA,
    meta: {
      scenario: scenario.name,
      description: scenario.description,
      load: describeLoad(scenario.load),
      loadShape: scenario.load,
      baseUrl: result.baseUrl,
      startedAt: result.startedAt.toISOString(),
      sendPhaseS: round(phase, 3),
      elapsedS: round(result.elapsedS, 3),
      stoppedBy: result.stoppedBy,
      seed: scenario.seed,
      limits: {
        durationS: scenario.durationS,
        maxRequests: scenario.maxRequests,
        maxInFlight: scenario.maxInFlight,
        timeoutS: scenario.timeoutS,
      },
      mix: {
        ...scenario.mix,
        tenants: scenario.mix.tenants.map(({ key, ...t }) => ({ ...t, ...(key ? { key: "(set)" } : {}) })),
      },
      node: process.version,
    },
    totals: {
      scheduled: metrics.scheduled,
      sent: metrics.sent,
      completed: overall.requests,
      notSent: result.notSent,
      ok: overall.kinds.ok,
      shed: overall.kinds.shed,
      failed: overall.requests - overall.kinds.ok - overall.kinds.shed,
      offeredRps: perS(metrics.scheduled),
      throughputRps: perS(overall.requests),
      goodputRps: perS(overall.kinds.ok),
      outputTokensPerS: overall.outputTokensPerS,
    },
    schedule: { lagMs: overall.latencyMs.lag },
    overall,
    classes: summarise(metrics.byClass, phase),
    priorities: summarise(metrics.byPriority, phase),
    tenants: summarise(metrics.byTenant, phase),
    series: metrics.series(),
    errors: result.errors,
  };
}

function summarise(groups: Map<string, ClassMetrics>, phase: number): Record<string, ClassSummary> {
  const keys = [...groups.keys()].sort();
  return Object.fromEntries(keys.map((k) => [k, groups.get(k)!.summary(phase)]));
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
