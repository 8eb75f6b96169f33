import { setTimeout as delay } from "node:timers/promises";
import { arrivalTimes, driveVirtualUsers } from "./arrivals";
import { RunMetrics } from "./metrics";
import { buildRequest, type RequestSpec } from "./mix";
import { executeRequest, type OutcomeKind, type RequestContext, type RequestOutcome } from "./request";
import { deriveSeed, seededRng } from "./rng";
import type { Scenario } from "./scenarios";

export interface Progress {
  elapsedS: number;
  durationS: number;
  scheduled: number;
  sent: number;
  completed: number;
  inFlight: number;
  /** Scheduled but waiting for an in-flight slot. */
  queued: number;
  ok: number;
  shed: number;
  failed: number;
  /** The last complete second. */
  lastSecond: { completed: number; p50Ms: number; p99Ms: number; ttftP50Ms: number };
  /** How far the generator is behind its schedule now (0 in a closed loop). */
  behindMs: number;
}

interface RunOptions {
  baseUrl: string;
  key: string;
  scenario: Scenario;
  /** Monotonic ms clock; performance.now by default. */
  now?: () => number;
  fetch?: typeof fetch;
  onProgress?: (p: Progress) => void;
  /** Stops sending and cuts in-flight requests (Ctrl-C); the run still returns its metrics. */
  signal?: AbortSignal;
}

export type StopReason = "duration" | "max-requests" | "schedule-end" | "aborted";

export interface ErrorSample {
  kind: OutcomeKind;
  status: number;
  message: string;
  count: number;
}

export interface RunResult {
  scenario: Scenario;
  baseUrl: string;
  startedAt: Date;
  /** Length of the sending phase, which rates are computed over. */
  sendPhaseS: number;
  /** Whole run, including waiting for the last responses. */
  elapsedS: number;
  stoppedBy: StopReason;
  /** Scheduled requests never sent because the hard stop came first. */
  notSent: number;
  metrics: RunMetrics;
  errors: ErrorSample[];
}

const MAX_ERROR_SAMPLES = 50;

/** Resolves after `ms`, or at once when `signal` aborts; never rejects and never outlives the abort. */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return;
  await delay(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * Runs a scenario against `baseUrl`. Bounded three ways: no request is scheduled after
 * `durationS` or beyond `maxRequests`; at most `maxInFlight` are outstanding (the rest wait, and
 * their wait counts in their latency); everything still running `timeoutS` after the sending phase
 * is aborted.
 */
export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { scenario } = options;
  const now = options.now ?? (() => performance.now());
  const hardStop = new AbortController();
  const onAbort = () => hardStop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const ctx: RequestContext = {
    baseUrl: options.baseUrl,
    key: options.key,
    timeoutMs: scenario.timeoutS * 1000,
    now,
    fetch: options.fetch ?? fetch,
    signal: hardStop.signal,
  };
  const state = new RunState(scenario, ctx, now(), now);
  const ticker = setInterval(() => state.tick(options.onProgress), 500);
  const startedAt = new Date();
  try {
    const stoppedBy =
      scenario.load.kind === "open"
        ? await state.openLoop(hardStop.signal)
        : await state.closedLoop(hardStop.signal);
    const sendPhaseS = Math.min(scenario.durationS, (now() - state.start) / 1000);
    const deadline = state.start + (sendPhaseS + scenario.timeoutS) * 1000;
    await Promise.race([state.drained(), sleep(deadline - now(), hardStop.signal)]);
    const notSent = state.abandonQueue();
    hardStop.abort();
    await state.settled();
    state.tick(options.onProgress);
    return {
      scenario,
      baseUrl: options.baseUrl,
      startedAt,
      sendPhaseS,
      elapsedS: (now() - state.start) / 1000,
      stoppedBy: options.signal?.aborted ? "aborted" : stoppedBy,
      notSent,
      metrics: state.metrics,
      errors: state.errorSamples(),
    };
  } finally {
    clearInterval(ticker);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

interface Queued {
  spec: RequestSpec;
  scheduledAt: number;
}

class RunState {
  readonly metrics = new RunMetrics();
  private readonly queue: Queued[] = [];
  private readonly active = new Set<Promise<void>>();
  private readonly errors = new Map<string, ErrorSample>();
  private inFlight = 0;
  private seq = 0;
  private lastScheduledAt: number | undefined;
  private sending = true;
  private onDrained: (() => void) | undefined;

  constructor(
    private readonly scenario: Scenario,
    private readonly ctx: RequestContext,
    readonly start: number,
    private readonly now: () => number,
  ) {}

  async openLoop(signal: AbortSignal): Promise<StopReason> {
    if (this.scenario.load.kind !== "open") throw new Error("openLoop needs an open load");
    const times = arrivalTimes(this.scenario.load.profile, {
      process: this.scenario.load.arrival,
      durationS: this.scenario.durationS,
      rng: seededRng(deriveSeed(this.scenario.seed, "arrivals")),
    });
    let reason: StopReason = "schedule-end";
    for (const t of times) {
      if (this.seq >= this.scenario.maxRequests) {
        reason = "max-requests";
        break;
      }
      const scheduledAt = this.start + t * 1000;
      const wait = scheduledAt - this.now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) {
        reason = "aborted";
        break;
      }
      this.lastScheduledAt = scheduledAt;
      this.metrics.noteScheduled(t * 1000);
      const item = { spec: this.nextSpec(), scheduledAt };
      if (this.inFlight < this.scenario.maxInFlight) this.launch(item);
      else this.queue.push(item);
    }
    const profile = this.scenario.load.profile;
    if (reason === "schedule-end" && (profile[profile.length - 1]?.rps ?? 0) > 0) reason = "duration";
    this.sending = false;
    this.checkDrained();
    return reason;
  }

  async closedLoop(signal: AbortSignal): Promise<StopReason> {
    if (this.scenario.load.kind !== "closed") throw new Error("closedLoop needs a closed load");
    const endAt = this.start + this.scenario.durationS * 1000;
    let reason: StopReason = "duration";
    await driveVirtualUsers({
      vus: Math.min(this.scenario.load.vus, this.scenario.maxInFlight),
      thinkMs: this.scenario.load.thinkMs,
      rampMs: this.scenario.load.rampS * 1000,
      sleep: (ms) => sleep(Math.min(ms, endAt - this.now()), signal),
      shouldStop: () => {
        if (signal.aborted) reason = "aborted";
        else if (this.seq >= this.scenario.maxRequests) reason = "max-requests";
        else return this.now() >= endAt;
        return true;
      },
      iterate: async () => {
        const scheduledAt = this.now();
        this.metrics.noteScheduled(scheduledAt - this.start);
        await this.launch({ spec: this.nextSpec(), scheduledAt });
      },
    });
    this.sending = false;
    this.checkDrained();
    return reason;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.onDrained = resolve;
      this.checkDrained();
    });
  }

  /** Drops queued requests that never got a slot; returns how many. */
  abandonQueue(): number {
    return this.queue.splice(0).length;
  }

  async settled(): Promise<void> {
    await Promise.all([...this.active]);
  }

  tick(onProgress?: (p: Progress) => void): void {
    const at = this.now() - this.start;
    this.metrics.noteLoad(at, this.inFlight, this.queue.length);
    if (!onProgress) return;
    const last = this.metrics.point(Math.floor(at / 1000) - 1);
    const k = this.metrics.overall.kinds;
    onProgress({
      elapsedS: at / 1000,
      durationS: this.scenario.durationS,
      scheduled: this.metrics.scheduled,
      sent: this.metrics.sent,
      completed: this.metrics.overall.requests,
      inFlight: this.inFlight,
      queued: this.queue.length,
      ok: k.ok,
      shed: k.shed,
      failed: this.metrics.overall.requests - k.ok - k.shed,
      lastSecond: {
        completed: last.completed,
        p50Ms: last.totalMs.p50,
        p99Ms: last.totalMs.p99,
        ttftP50Ms: last.ttftMs.p50,
      },
      behindMs:
        this.sending && this.lastScheduledAt !== undefined && this.queue.length > 0
          ? this.now() - (this.queue[0]?.scheduledAt ?? this.now())
          : 0,
    });
  }

  errorSamples(): ErrorSample[] {
    return [...this.errors.values()].sort((a, b) => b.count - a.count);
  }

  private nextSpec(): RequestSpec {
    const spec = buildRequest(this.scenario.mix, this.scenario.seed, this.seq);
    this.seq += 1;
    return spec;
  }

  private launch(item: Queued): Promise<void> {
    this.inFlight += 1;
    this.metrics.noteSent(this.now() - this.start, this.inFlight, this.queue.length);
    const p = executeRequest(item.spec, this.ctx, item.scheduledAt, this.start).then((o) => this.finish(o));
    this.active.add(p);
    void p.finally(() => this.active.delete(p));
    return p;
  }

  private finish(o: RequestOutcome): void {
    this.inFlight -= 1;
    this.metrics.record(o);
    if (o.kind !== "ok") this.noteError(o);
    while (this.inFlight < this.scenario.maxInFlight && this.queue.length > 0 && !this.ctx.signal?.aborted) {
      this.launch(this.queue.shift()!);
    }
    this.checkDrained();
  }

  private noteError(o: RequestOutcome): void {
    const message = (o.error ?? "").replace(/\s+/g, " ").slice(0, 160);
    const key = `${o.kind}|${o.status}|${message}`;
    const found = this.errors.get(key);
    if (found) found.count += 1;
    else if (this.errors.size < MAX_ERROR_SAMPLES)
      this.errors.set(key, { kind: o.kind, status: o.status, message, count: 1 });
  }

  private checkDrained(): void {
    if (!this.sending && this.inFlight === 0 && this.queue.length === 0) this.onDrained?.();
  }
}
