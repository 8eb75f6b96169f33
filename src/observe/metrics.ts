import type { Policy } from "../config/policy";
import { writeRequestPoint } from "./analytics";
import { DeltaRecorder } from "./delta";
import type { MetricsSink, PipelineEvent, RequestSample } from "./sample";
import { type ObserveVars, observeSettings } from "./settings";

/** The one aggregator every isolate flushes to. */
export const FLEET = "fleet";

type MetricsEnv = Pick<Env, "METRICS" | "REQUEST_EVENTS"> & ObserveVars;

/**
 * This isolate's metrics: deltas gathered in memory and flushed to the aggregator at most every
 * `METRICS_FLUSH_MS`, in one RPC, off the response path. The request that opens a flush window holds
 * that flush in its `waitUntil` (which outlives its response and its client) and carries everything
 * recorded until then; later requests in the window only add to it, so they are not kept alive for
 * seconds each. Only an isolate that crashes inside the window loses its deltas.
 */
class IsolateMetrics implements MetricsSink {
  private recorder = new DeltaRecorder();
  private flushing: Promise<void> | undefined;

  event(event: PipelineEvent): void {
    this.recorder.event(event);
  }

  /** Records a finished request; returns the flush this request must hold in its `waitUntil`, if any. */
  request(env: MetricsEnv, sample: RequestSample, policy: Policy): Promise<void> {
    const settings = observeSettings(env);
    if (!settings.enabled) return Promise.resolve();
    this.recorder.request(sample);
    writeRequestPoint(env.REQUEST_EVENTS, sample);
    if (this.flushing) return Promise.resolve();
    this.flushing = new Promise<void>((resolve) => setTimeout(resolve, settings.flushMs)).then(() =>
      this.flush(env, policy),
    );
    return this.flushing;
  }

  /** Writes what is pending now (a scrape does this first, so this isolate's latest counts show). */
  flush(env: MetricsEnv, policy: Policy): Promise<void> {
    this.flushing = undefined;
    const settings = observeSettings(env);
    if (this.recorder.empty) return Promise.resolve();
    const delta = this.recorder.take();
    return env.METRICS.getByName(FLEET)
      .merge(delta, { maxTenants: settings.maxTenants, rules: settings.rules, pools: policy.pools })
      .catch((error: unknown) =>
        console.error(JSON.stringify({ event: "metrics_flush_failed", error: String(error) })),
      );
  }
}

/** Module scope on purpose: one recorder per isolate, shared by every request it serves. */
export const metrics = new IsolateMetrics();
