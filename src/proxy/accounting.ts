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
import { recordRequest } from "../observe/recorder";
import type { PlanStep } from "../routing/plan";
import { addUsage, NO_USAGE, type Usage } from "../usage";
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
 * Accounts for one request exactly once, however it ends: one log line, metrics, and one idempotent
 * row in the tenant's ledger written off the response path, plus a row for every attempt the upstream
 * may bill that did not answer. Usage the upstream never reported (a stream that broke, a client that
 * left) is estimated and marked so.
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
  const rows = new LedgerRows(policy, c.get("requestId"), {
    keyId: c.get("routerKey")?.id ?? null,
    endUser: c.get("endUser")?.id ?? null,
  });
  const ledger = ledgerBatcher(c.env);
  // Registered now, while the request is live: a stream ends after its response is complete (or its
  // client gone), and workerd drops I/O that a finished request starts, waitUntil included.
  let written: (flush: Promise<void>) => void = () => {};
  c.executionCtx.waitUntil(
    new Promise<Promise<void>>((resolve) => (written = resolve)).then((flush) => flush),
  );
  const spentRows: Promise<void>[] = [];
  let charged: (tokens: number, usd: number) => void = () => {};
  const attempts = new SpentAttempts();
  const spent = ({ step, status }: SpentAttempt) => {
    if (done) return;
    const { usage } = usageToRecord(undefined, true, classification.promptTokens, 0);
    const entry = rows.attempt(step, status, usage);
    attempts.add(entry);
    spentRows.push(ledger.add(tenant, entry));
  };
  const finish = (finished: Finished) => {
    if (done) return;
    done = true;
    const endedAt = performance.now();
    // The answer leaves first: its log line, metrics, ledger row and record are made in a task of their
    // own, after the handler has returned (a microtask would still run before the response is sent).
    setTimeout(() => {
      try {
        written(account(finished, endedAt));
      } catch (error) {
        // Never left pending: the request's waitUntil would hold its isolate until the runtime gives up.
        written(Promise.resolve());
        console.error(
          JSON.stringify({ event: "accounting_failed", requestId: rows.requestId, error: String(error) }),
        );
      }
    }, 0);
  };
  const account = (finished: Finished, endedAt: number): Promise<void> => {
    const { usage, estimated } = usageToRecord(
      finished.reported,
      finished.reachedUpstream,
      classification.promptTokens,
      finished.outputEvents ?? 0,
    );
    // A batch line (issue 15) books under its own key: a rerun after a crash is ignored by the ledger.
    const entry = rows.request(finished, usage, estimated, c.get("ledgerKey"));
    // The log line, metrics and Analytics Engine carry what the ledger holds: this row and every spent attempt's.
    const total = attempts.with(entry);
    charged(total.usage.promptTokens + total.usage.completionTokens, total.costUsd);
    const record = completionRecord({ finished, entry, total, tenant, stream, startedAt, endedAt });
    // A frontend token's verified end user (issue 23), by its id: never a body field, never the raw sub.
    const endUser = c.get("endUser")?.id;
    logCompletion(c.env, endUser ? { ...record, endUser } : record);
    // Metrics (issue 13): fleet counters and one Analytics Engine point, flushed with the ledger's write.
    const metricsFlush = metrics.request(
      c.env,
      {
        ...record,
        type: classification.type,
        costUsd: total.costUsd,
        cache: finished.cache?.toLowerCase(),
        promptTokens: total.usage.promptTokens,
        completionTokens: total.usage.completionTokens,
        cacheHitTokens: total.usage.cacheHitTokens,
        savedUsd: entry.savedUsd,
      },
      policy,
    );
    // The request's record (issue 25), with every attempt's usage: batched like the ledger's rows.
    const recorded = recordRequest(c, {
      finished,
      usage: total.usage,
      estimated: total.estimated,
      costUsd: total.costUsd,
      savedUsd: entry.savedUsd,
      sentAt: startedAt,
      endedAt,
      stream,
    });
    return Promise.all([...spentRows, ledger.add(tenant, entry), metricsFlush, recorded]).then(() => {});
  };
  return {
    finish,
    spent,
    onCharged(listener) {
      charged = listener;
    },
  };
}

/** What a request's ledger rows add up to: its own row and those of the attempts it spent. */
interface Total {
  usage: Usage;
  costUsd: number;
  estimated: boolean;
  /** Attempts the upstream may have billed besides the answer (0 when the first attempt answered). */
  spentAttempts: number;
}

class SpentAttempts {
  private usage = NO_USAGE;
  private costUsd = 0;
  private count = 0;

  add(entry: LedgerEntry): void {
    this.usage = addUsage(this.usage, entry.usage);
    this.costUsd += entry.costUsd;
    this.count += 1;
  }

  with(entry: LedgerEntry): Total {
    return {
      usage: addUsage(entry.usage, this.usage),
      costUsd: entry.costUsd + this.costUsd,
      estimated: entry.estimated || this.count > 0,
      spentAttempts: this.count,
    };
  }
}

/** A request's ledger rows: its own, and its spent attempts', priced at the rates in force. */
class LedgerRows {
  constructor(
    private readonly policy: Policy,
    readonly requestId: string,
    private readonly spender: Pick<LedgerEntry, "keyId" | "endUser">,
  ) {}

  request(finished: Finished, usage: Usage, estimated: boolean, entryId?: string): LedgerEntry {
    return {
      ...this.priced(finished.model, usage, entryId),
      kind: "request",
      pool: finished.pool ?? null,
      status: finished.status,
      outcome: finished.outcome,
      cache: finished.cache ?? null,
      estimated,
      savedUsd: finished.savedUsd ?? 0,
    };
  }

  /** Sent, not refused with a status, not the answer: the prompt, estimated, as the upstream may bill it. */
  attempt(step: PlanStep, status: number, usage: Usage): LedgerEntry {
    return {
      ...this.priced(step.model, usage),
      kind: "attempt",
      pool: step.pool,
      status,
      outcome: status === 499 ? "cancelled" : "failed",
      cache: null,
      estimated: true,
      savedUsd: 0,
    };
  }

  private priced(model: string, usage: Usage, entryId = crypto.randomUUID()) {
    const at = Date.now();
    const costUsd = usageCostUsd(this.policy, model, usage, at);
    return { entryId, requestId: this.requestId, at, model, usage, costUsd, ...this.spender };
  }
}

function completionRecord(o: {
  finished: Finished;
  entry: LedgerEntry;
  total: Total;
  tenant: string;
  stream: boolean;
  startedAt: number;
  endedAt: number;
}): CompletionRecord {
  const { finished, entry } = o;
  return {
    requestId: entry.requestId,
    tenant: o.tenant,
    model: entry.model,
    pool: finished.pool,
    stream: o.stream,
    status: entry.status,
    outcome: entry.outcome,
    finishReason: finished.finishReason,
    usage: o.total.usage,
    estimated: o.total.estimated,
    costUsd: o.total.costUsd,
    spentAttempts: o.total.spentAttempts || undefined,
    cache: finished.cache,
    upstreamMs: round(finished.upstreamMs ?? 0),
    firstTokenMs: finished.firstTokenMs === undefined ? undefined : round(finished.firstTokenMs),
    totalMs: round(o.endedAt - o.startedAt),
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
