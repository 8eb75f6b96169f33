import { type Labels, METRIC, type MetricId, type MetricSpec } from "./catalog";
import type { MetricsSink, PipelineEvent, RequestSample } from "./sample";

export interface CounterDelta {
  metric: MetricId;
  labels: Labels;
  value: number;
}

export interface HistogramDelta {
  metric: MetricId;
  labels: Labels;
  /** Per bucket, not cumulative; one more than the spec's bounds (the last is +Inf). */
  counts: number[];
  sum: number;
}

/** What one isolate observed since its last flush: plain data, sent to the aggregator over RPC. */
export interface MetricsDelta {
  counters: CounterDelta[];
  histograms: HistogramDelta[];
}

/** The bucket a value in seconds falls in: the first bound it does not exceed, else +Inf. */
export function bucketIndex(bounds: readonly number[], seconds: number): number {
  let i = 0;
  while (i < bounds.length && seconds > (bounds[i] as number)) i++;
  return i;
}

/**
 * One isolate's counts since its last flush. Recording is a few map updates per request; the key is
 * the label values in the spec's order, so no object is sorted or serialised on the hot path.
 */
export class DeltaRecorder implements MetricsSink {
  private counters = new Map<string, CounterDelta>();
  private histograms = new Map<string, HistogramDelta>();

  get empty(): boolean {
    return this.counters.size === 0 && this.histograms.size === 0;
  }

  request(s: RequestSample): void {
    const pool = s.pool ?? "none";
    this.count("requests", [pool, s.model, s.type, s.tenant, s.outcome, s.cache ?? "none"]);
    this.count("responses", [pool, String(s.status)]);
    this.count("tokens", [pool, s.model, s.tenant, "input"], s.promptTokens);
    this.count("tokens", [pool, s.model, s.tenant, "output"], s.completionTokens);
    this.count("tokens", [pool, s.model, s.tenant, "cache_hit"], s.cacheHitTokens);
    this.count("cost", [s.model, s.tenant], s.costUsd);
    if (s.savedUsd > 0) this.count("saved", [s.tenant], s.savedUsd);
    if (s.firstTokenMs !== undefined) {
      this.observe("ttft", [pool], s.firstTokenMs / 1000);
      this.observe("tenantTtft", [s.tenant], s.firstTokenMs / 1000);
    }
    this.observe("duration", [pool], s.totalMs / 1000);
    this.observe("tenantDuration", [s.tenant], s.totalMs / 1000);
  }

  event(e: PipelineEvent): void {
    switch (e.kind) {
      case "upstream_response":
        this.count("upstreamResponses", [e.pool, String(e.status)]);
        break;
      case "retry":
        this.count("retries", [e.pool]);
        break;
      case "fallback":
        this.count("fallbacks", [e.from, e.to]);
        break;
      case "degrade":
        this.count("degrades", [e.pool, e.how]);
        break;
      case "shed":
        this.count("sheds", [e.pool, e.reason]);
        break;
      case "queue_wait":
        this.observe("queueWait", [e.pool], e.ms / 1000);
        break;
      case "breaker_open":
        this.count("breakerOpens", [e.pool, e.target]);
        break;
      case "router_overhead":
        this.observe("overhead", [], e.ms / 1000);
        break;
    }
  }

  /** Everything recorded so far, leaving the recorder empty. */
  take(): MetricsDelta {
    const delta = { counters: [...this.counters.values()], histograms: [...this.histograms.values()] };
    this.counters = new Map();
    this.histograms = new Map();
    return delta;
  }

  private count(metric: MetricId, values: string[], by = 1): void {
    if (by === 0 || !Number.isFinite(by)) return;
    const key = `${metric}\u0000${values.join("\u0000")}`;
    const entry = this.counters.get(key);
    if (entry) entry.value += by;
    else this.counters.set(key, { metric, labels: labelsOf(METRIC[metric], values), value: by });
  }

  private observe(metric: MetricId, values: string[], seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    const bounds = (METRIC[metric] as MetricSpec).buckets ?? [];
    const key = `${metric}\u0000${values.join("\u0000")}`;
    let entry = this.histograms.get(key);
    if (!entry) {
      entry = { metric, labels: labelsOf(METRIC[metric], values), counts: zeros(bounds.length + 1), sum: 0 };
      this.histograms.set(key, entry);
    }
    (entry.counts[bucketIndex(bounds, seconds)] as number)++;
    entry.sum += seconds;
  }
}

function labelsOf(spec: MetricSpec, values: string[]): Labels {
  const labels: Record<string, string> = {};
  spec.labels.forEach((name, i) => {
    labels[name] = values[i] ?? "";
  });
  return labels;
}

export function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
