import { ratesAt } from "../src/classify/price";
import { DEEPSEEK_PRICES } from "../src/config/prices";
import { streamBody } from "./body";
import type { Lease } from "./capacity";
import type { Generated } from "./completion";
import {
  concurrencyExceeded,
  gatewayError,
  insufficientBalance,
  internalError,
  keyEcho,
  type SimError,
  serviceBusy,
} from "./errors";
import { faultLabel, nextFault } from "./faults";
import { completionId, systemFingerprint } from "./ids";
import type { Price } from "./models";
import type { Era, FaultSpec, FaultStatus } from "./options";
import { prefixKeys } from "./prefix-cache";
import type { Prepared } from "./prepare";
import type { Frame, Meta, UsageCounts } from "./render";
import { timelineProducer } from "./run";
import { balanceOf, type SimState } from "./state";
import { bump, recordEnd } from "./stats";

const USD_TO_CNY = 7.2;

type Outcome = { kind: "error"; error: SimError } | { kind: "stream"; response: Response };

type Admitted = { ok: true; fault: FaultSpec; lease: Lease | undefined } | { ok: false; error: SimError };

function statusFault(status: FaultStatus, held: number): SimError {
  if (status === 429) return concurrencyExceeded(held + 1, held);
  if (status === 503) return serviceBusy();
  if (status === 500) return internalError();
  return gatewayError(status);
}

/** Balance, then the next injected fault, then a concurrency slot (or a place in the queue); blank bodies take none. */
function admit(state: SimState, key: string, stream: boolean): Admitted {
  const { options: o, stats, capacity } = state;
  if (balanceOf(state, key) <= 0) return { ok: false, error: insufficientBalance() };
  const fault = nextFault(state.script, o.faults, () => state.faultRng.next());
  const label = faultLabel(fault);
  if (label) bump(stats.faults, label);
  if (fault.kind === "status") return { ok: false, error: statusFault(fault.status, capacity.held(key)) };
  if (fault.kind === "echoKey") return { ok: false, error: keyEcho(fault.status, key, stream) };
  if (fault.kind === "blankBody") return { ok: true, fault, lease: undefined };
  const lease = capacity.tryAcquire(key);
  if (lease || o.overload === "queue") return { ok: true, fault, lease };
  if (o.overload === "reject503") {
    stats.rejected503++;
    return { ok: false, error: serviceBusy() };
  }
  stats.rejected429++;
  return { ok: false, error: concurrencyExceeded(capacity.held(key) + 1, o.concurrency) };
}

/** Prompt usage with prefix-cache hits; the prompt is stored for the requests that follow. */
function meter(state: SimState, p: Prepared, now: number): UsageCounts {
  const keys = prefixKeys(p.prompt);
  const hit = state.cache.hitTokens(p.scope, keys, now, state.options.prefixCacheDelayMs);
  state.cache.remember(p.scope, keys, now);
  state.stats.promptTokens += p.prompt.length;
  state.stats.cacheHitTokens += hit;
  return { prompt: p.prompt.length, hit };
}

/** List price of the whole answer, charged up front (an aborted answer is charged in full). */
function charge(state: SimState, key: string, p: Prepared, usage: UsageCounts, g: Generated): void {
  const o = state.options;
  if (!o.chargeUsage) return;
  const price = listPrice(o.era, p.spec, Date.now());
  const miss = usage.prompt - usage.hit;
  const listed = (usage.hit * price.hit + miss * price.miss + g.completionTokens * price.output) / 1e6;
  const usd = listed * o.billingMultiplier;
  state.spent.set(key, (state.spent.get(key) ?? 0) + usd * (o.currency === "CNY" ? USD_TO_CNY : 1));
}

/**
 * USD per 1M tokens now. Today's models bill at DeepSeek's published list, peak and off-peak hours
 * included (deepseek-api.md §7.1; the router's price table holds the same facts); the older eras, and
 * a model the list lacks, at the era's own price.
 */
function listPrice(era: Era, spec: Prepared["spec"], now: number): Price {
  const periods = era === "v41" ? DEEPSEEK_PRICES[spec.id] : undefined;
  const rates = periods && ratesAt(periods, now)?.rates;
  return rates ? { hit: rates.inputCacheHit, miss: rates.inputCacheMiss, output: rates.output } : spec.price;
}

/** The whole answer, framed for the wire: usage, generation, billing. */
function plan(
  state: SimState,
  p: Prepared,
  key: string,
  fault: FaultSpec,
): { frames: Frame[]; tokens: number } {
  const o = state.options;
  const now = Date.now();
  const usage = meter(state, p, now);
  const cutAt = fault.kind === "insufficientResource" ? (fault.afterTokens ?? "half") : undefined;
  const g = p.generate({
    era: o.era,
    minAnswerTokens: o.minAnswerTokens,
    maxAnswerTokens: o.maxAnswerTokens,
    cutAt,
  });
  charge(state, key, p, usage, g);
  const meta: Meta = {
    id: completionId(),
    created: Math.floor(now / 1000),
    model: p.model,
    fingerprint: systemFingerprint(o.era, o.seed),
    thinking: p.thinking,
    includeUsage: p.includeUsage,
    separateUsageChunk: o.separateUsageChunk,
  };
  const frames = p.stream ? p.frames(g, meta, usage) : [{ data: p.body(g, meta, usage), token: false }];
  return { frames, tokens: g.completionTokens };
}

/**
 * Serves a prepared request: admission, then a 200 whose body the timeline writes over time
 * (`signal` is the request's, so a disconnect stops the work and frees the slot).
 */
export function serve(
  state: SimState,
  p: Prepared,
  key: string,
  signal: AbortSignal | undefined,
  onWrite?: (text: string) => void,
): Outcome {
  const admitted = admit(state, key, p.stream);
  if (!admitted.ok) return { kind: "error", error: admitted.error };
  const { fault, lease } = admitted;
  let answer: ReturnType<typeof plan>;
  try {
    answer = plan(state, p, key, fault);
  } catch (e) {
    lease?.release();
    throw e;
  }
  const { options: o, stats } = state;
  const slow = fault.kind === "slow" ? fault : undefined;
  const producer = timelineProducer(
    {
      stream: p.stream,
      ...answer,
      ttftMs: slow?.ttftMs ?? o.ttftMs,
      tokensPerS: slow?.tokensPerS ?? o.tokensPerS,
      fault,
      keepAliveMs: o.queueKeepAliveMs,
      queueTimeoutMs: o.queueTimeoutMs,
      firstTokenKeepAliveMs: o.keepAliveBeforeFirstTokenMs,
      stallMs: o.faults.stallMs,
      stallKeepAlive: o.faults.stallKeepAlive,
      rng: state.faultRng,
    },
    {
      lease,
      wait: () => state.capacity.wait(key),
      onQueued: () => stats.queued++,
      onTokens: (n) => {
        stats.completionTokens += n;
      },
    },
  );
  const body = streamBody(producer, (reason) => recordEnd(stats, reason), signal, onWrite);
  const headers: Record<string, string> = p.stream
    ? { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" }
    : { "content-type": "application/json" };
  return { kind: "stream", response: new Response(body, { status: 200, headers }) };
}
