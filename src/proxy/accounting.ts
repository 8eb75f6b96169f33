import type { Context } from "hono";
import type { Finished } from "../answer";
import { usageCostUsd } from "../classify/catalog";
import type { Classification } from "../classify/classify";
import type { Policy } from "../config/policy";
import type { AppEnv } from "../env";
import { LedgerBatcher } from "../ledger/batcher";
import { type LedgerEntry, usageToRecord } from "../ledger/entry";
import { type CompletionRecord, logCompletion } from "../observe/log";
import { metrics } from "../observe/metrics";
import type { Usage } from "../usage";
import type { SpentAttempt } from "./attempt";

/** What a request's accounting is told: how the request ended, and any attempt spent on the way. */
export interface Accounts {
  /** Once, however the request ends; later calls are ignored. */
  finish(finished: Finished): void;
  /** An upstream attempt that was accepted but did not answer (retried, or its caller left). */
  spent(attempt: SpentAttempt): void;
  /** Tells `listener` the request's tokens and dollars, attempts included, once it is finished. */
  onCharged(listener: (tokens: number, usd: number) => void): void;
}

/**
 * Accounts for one request exactly once, however it ends: one log line, and one idempotent row in the
 * tenant's ledger written off the response path, plus a row for every attempt the upstream accepted
 * but that did not answer, since the upstream may bill it. Usage the upstream never reported (a stream
 * that broke, a client that left) is estimated and marked so.
 */
export function accountFor(
  c: Context<AppEnv>,
  classification: Classification,
  policy: Policy,
  stream: boolean,
  startedAt: number,
): Accounts {
  let done = false;
  const tenant = c.get("tenant").id;
  const requestId = c.get("requestId");
  const ledger = ledgerBatcher(c.env);
  // Registered now, while the request is live: a stream ends after its response is complete (or its
  // client gone), and workerd drops I/O that a finished request starts, waitUntil included.
  let written: (flush: Promise<void>) => void = () => {};
  c.executionCtx.waitUntil(
    new Promise<Promise<void>>((resolve) => (written = resolve)).then((flush) => flush),
  );
  const spentRows: Promise<void>[] = [];
  let charged: (tokens: number, usd: number) => void = () => {};
  let attemptTokens = 0;
  let attemptUsd = 0;
  const price = (model: string, usage: Usage) => usageCostUsd(policy, model, usage, Date.now());
  const spent = ({ step, status }: SpentAttempt) => {
    if (done) return;
    const usage = usageToRecord(undefined, true, classification.promptTokens, 0).usage;
    const entry: LedgerEntry = {
      entryId: crypto.randomUUID(),
      kind: "attempt",
      requestId,
      at: Date.now(),
      model: step.model,
      pool: step.pool,
      status,
      outcome: status === 499 ? "cancelled" : "failed",
      cache: null,
      usage,
      estimated: true,
      costUsd: price(step.model, usage),
      savedUsd: 0,
    };
    attemptTokens += usage.promptTokens;
    attemptUsd += entry.costUsd;
    spentRows.push(ledger.add(tenant, entry));
  };
  const finish = (finished: Finished) => {
    if (done) return;
    done = true;
    const { usage, estimated } = usageToRecord(
      finished.reported,
      finished.reachedUpstream,
      classification.promptTokens,
      finished.outputEvents ?? 0,
    );
    const cost = price(finished.model, usage);
    charged(usage.promptTokens + usage.completionTokens + attemptTokens, cost + attemptUsd);
    const record: CompletionRecord = {
      requestId,
      tenant,
      model: finished.model,
      pool: finished.pool,
      stream,
      status: finished.status,
      outcome: finished.outcome,
      finishReason: finished.finishReason,
      usage,
      estimated,
      costUsd: cost,
      cache: finished.cache,
      upstreamMs: round(finished.upstreamMs ?? 0),
      firstTokenMs: finished.firstTokenMs === undefined ? undefined : round(finished.firstTokenMs),
      totalMs: round(performance.now() - startedAt),
    };
    logCompletion(record);
    // Metrics (issue 13): fleet counters and one Analytics Engine point, flushed with the ledger's write.
    const metricsFlush = metrics.request(
      c.env,
      {
        ...record,
        type: classification.type,
        costUsd: cost,
        cache: finished.cache?.toLowerCase(),
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        cacheHitTokens: usage.cacheHitTokens,
        savedUsd: finished.savedUsd ?? 0,
      },
      policy,
    );
    const entry: LedgerEntry = {
      // A batch line (issue 15) books under its own key: a rerun after a crash is ignored by the ledger.
      entryId: c.get("ledgerKey") ?? crypto.randomUUID(),
      kind: "request",
      requestId,
      at: Date.now(),
      model: finished.model,
      pool: finished.pool ?? null,
      status: finished.status,
      outcome: finished.outcome,
      cache: finished.cache ?? null,
      usage,
      estimated,
      costUsd: cost,
      savedUsd: finished.savedUsd ?? 0,
    };
    written(Promise.all([...spentRows, ledger.add(tenant, entry), metricsFlush]).then(() => {}));
  };
  return {
    finish,
    spent,
    onCharged(listener) {
      charged = listener;
    },
  };
}
const batchers = new WeakMap<Env["TENANT_LEDGER"], LedgerBatcher>();

/** One batcher per ledger binding per isolate. */
function ledgerBatcher(env: Env): LedgerBatcher {
  let batcher = batchers.get(env.TENANT_LEDGER);
  if (!batcher) {
    const ledgers = env.TENANT_LEDGER;
    batcher = new LedgerBatcher(
      (tenant, entries) => ledgers.getByName(tenant).recordMany(entries),
      (error, entries) =>
        console.error(JSON.stringify({ event: "ledger_write_failed", entries, error: String(error) })),
    );
    batchers.set(ledgers, batcher);
  }
  return batcher;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
