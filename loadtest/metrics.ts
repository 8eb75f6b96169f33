import { Histogram, type HistogramSummary } from "./histogram";
import { OUTCOME_KINDS, type OutcomeKind, type RequestOutcome } from "./request";

export type KindCounts = Record<OutcomeKind, number>;

function emptyKinds(): KindCounts {
  return Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as KindCounts;
}

/** Aggregates for one request class (or for all of them). */
export class ClassMetrics {
  requests = 0;
  readonly kinds = emptyKinds();
  readonly statuses: Record<string, number> = {};
  /** 429s that carried a Retry-After header. */
  retryAfterPresent = 0;
  readonly retryAfterS = new Histogram();
  /** Latencies of successful requests only; failures show in the status mix. */
  readonly totalMs = new Histogram();
  readonly ttfbMs = new Histogram();
  readonly ttftMs = new Histogram();
  readonly gapMs = new Histogram();
  readonly tokensPerS = new Histogram();
  readonly routerQueueMs = new Histogram();
  readonly routerOverheadMs = new Histogram();
  readonly lagMs = new Histogram();
  readonly cache: Record<string, number> = {};
  outputTokens = 0;
  keepAlives = 0;

  record(o: RequestOutcome): void {
    this.requests += 1;
    this.kinds[o.kind] += 1;
    const status = String(o.status);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.lagMs.record(o.lagMs);
    this.keepAlives += o.keepAlives;
    if (o.status === 429) {
      if (o.retryAfterPresent) this.retryAfterPresent += 1;
      if (o.retryAfterS !== undefined) this.retryAfterS.record(o.retryAfterS);
    }
    if (o.router.queueMs !== undefined) this.routerQueueMs.record(o.router.queueMs);
    if (o.router.overheadMs !== undefined) this.routerOverheadMs.record(o.router.overheadMs);
    if (o.status > 0) {
      const cache = o.router.cache ?? "none";
      this.cache[cache] = (this.cache[cache] ?? 0) + 1;
    }
    if (o.outputTokens !== undefined) this.outputTokens += o.outputTokens;
    if (o.kind !== "ok") return;
    this.totalMs.record(o.totalMs);
    if (o.ttfbMs !== undefined) this.ttfbMs.record(o.ttfbMs);
    if (o.ttftMs !== undefined) this.ttftMs.record(o.ttftMs);
    for (const g of o.gapsMs) this.gapMs.record(g);
    if (o.tokensPerS !== undefined) this.tokensPerS.record(o.tokensPerS);
  }

  summary(durationS: number): ClassSummary {
    return {
      requests: this.requests,
      throughputRps: durationS > 0 ? this.requests / durationS : 0,
      successRate: this.requests > 0 ? this.kinds.ok / this.requests : 0,
      kinds: { ...this.kinds },
      statuses: { ...this.statuses },
      shed: {
        count: this.kinds.shed,
        withRetryAfter: this.retryAfterPresent,
        retryAfterS: this.retryAfterS.summary(),
      },
      latencyMs: {
        total: this.totalMs.summary(),
        ttfb: this.ttfbMs.summary(),
        ttft: this.ttftMs.summary(),
        gap: this.gapMs.summary(),
        lag: this.lagMs.summary(),
      },
      tokensPerS: this.tokensPerS.summary(),
      outputTokens: this.outputTokens,
      outputTokensPerS: durationS > 0 ? this.outputTokens / durationS : 0,
      router: {
        queueMs: this.routerQueueMs.summary(),
        overheadMs: this.routerOverheadMs.summary(),
        cache: { ...this.cache },
      },
      keepAlives: this.keepAlives,
    };
  }
}

export interface ClassSummary {
  requests: number;
  throughputRps: number;
  /** Share of requests whose outcome is `ok`. */
  successRate: number;
  kinds: KindCounts;
  /** HTTP status → count; "0" means no response. */
  statuses: Record<string, number>;
  shed: { count: number; withRetryAfter: number; retryAfterS: HistogramSummary };
  latencyMs: {
    total: HistogramSummary;
    ttfb: HistogramSummary;
    ttft: HistogramSummary;
    gap: HistogramSummary;
    lag: HistogramSummary;
  };
  tokensPerS: HistogramSummary;
  outputTokens: number;
  outputTokensPerS: number;
  router: { queueMs: HistogramSummary; overheadMs: HistogramSummary; cache: Record<string, number> };
  keepAlives: number;
}

/** One second of the run. Completions are counted in the second they finished. */
export interface SecondPoint {
  t: number;
  scheduled: number;
  sent: number;
  completed: number;
  kinds: KindCounts;
  outputTokens: number;
  inFlightMax: number;
  queuedMax: number;
  totalMs: { p50: number; p90: number; p99: number };
  ttftMs: { p50: number; p90: number; p99: number };
  lagMaxMs: number;
}

interface SecondAcc {
  scheduled: number;
  sent: number;
  completed: number;
  kinds: KindCounts;
  outputTokens: number;
  inFlightMax: number;
  queuedMax: number;
  total: Histogram;
  ttft: Histogram;
  lagMaxMs: number;
}

/** Everything a run records: per class, overall, per priority and tenant, and per second. */
export class RunMetrics {
  readonly overall = new ClassMetrics();
  readonly byClass = new Map<string, ClassMetrics>();
  readonly byPriority = new Map<string, ClassMetrics>();
  readonly byTenant = new Map<string, ClassMetrics>();
  private readonly seconds = new Map<number, SecondAcc>();
  scheduled = 0;
  sent = 0;

  noteScheduled(atMs: number): void {
    this.scheduled += 1;
    this.second(atMs).scheduled += 1;
  }

  noteSent(atMs: number, inFlight: number, queued: number): void {
    this.sent += 1;
    const s = this.second(atMs);
    s.sent += 1;
    this.noteLoad(atMs, inFlight, queued);
  }

  noteLoad(atMs: number, inFlight: number, queued: number): void {
    const s = this.second(atMs);
    s.inFlightMax = Math.max(s.inFlightMax, inFlight);
    s.queuedMax = Math.max(s.queuedMax, queued);
  }

  record(o: RequestOutcome): void {
    this.overall.record(o);
    groupOf(this.byClass, o.class).record(o);
    groupOf(this.byPriority, o.priority ?? "unset").record(o);
    groupOf(this.byTenant, o.tenant).record(o);
    const s = this.second(o.scheduledMs + o.totalMs);
    s.completed += 1;
    s.kinds[o.kind] += 1;
    s.outputTokens += o.outputTokens ?? 0;
    s.lagMaxMs = Math.max(s.lagMaxMs, o.lagMs);
    if (o.kind === "ok") {
      s.total.record(o.totalMs);
      if (o.ttftMs !== undefined) s.ttft.record(o.ttftMs);
    }
  }

  /** Dense per-second series from 0 to the last second anything happened in. */
  series(): SecondPoint[] {
    const last = Math.max(-1, ...this.seconds.keys());
    return Array.from({ length: last + 1 }, (_, t) => this.point(t));
  }

  /** Second `t` of the run (empty if nothing happened in it). */
  point(t: number): SecondPoint {
    const s = this.seconds.get(t) ?? emptySecond();
    return {
      t,
      scheduled: s.scheduled,
      sent: s.sent,
      completed: s.completed,
      kinds: { ...s.kinds },
      outputTokens: s.outputTokens,
      inFlightMax: s.inFlightMax,
      queuedMax: s.queuedMax,
      totalMs: tri(s.total),
      ttftMs: tri(s.ttft),
      lagMaxMs: s.lagMaxMs,
    };
  }

  private second(atMs: number): SecondAcc {
    const t = Math.max(0, Math.floor(atMs / 1000));
    let s = this.seconds.get(t);
    if (!s) {
      s = emptySecond();
      this.seconds.set(t, s);
    }
    return s;
  }
}

function emptySecond(): SecondAcc {
  return {
    scheduled: 0,
    sent: 0,
    completed: 0,
    kinds: emptyKinds(),
    outputTokens: 0,
    inFlightMax: 0,
    queuedMax: 0,
    total: new Histogram({ subBucketBits: 6 }),
    ttft: new Histogram({ subBucketBits: 6 }),
    lagMaxMs: 0,
  };
}

function tri(h: Histogram): { p50: number; p90: number; p99: number } {
  return { p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99) };
}

function groupOf(map: Map<string, ClassMetrics>, key: string): ClassMetrics {
  let m = map.get(key);
  if (!m) {
    m = new ClassMetrics();
    map.set(key, m);
  }
  return m;
}
