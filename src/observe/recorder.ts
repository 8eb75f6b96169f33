import type { Context } from "hono";
import type { Finished } from "../answer";
import type { AppEnv } from "../env";
import { LedgerBatcher } from "../ledger/batcher";
import { type RequestRecord, Timeline, type TimelineEvent, traceContext } from "../trace";
import { NO_USAGE, type Usage } from "../usage";
import { type OtelVars, otelDestination, recordsKept, type TenantOtel } from "./otel-config";

/** What the request's accounting knows once it is finished: how it ended, what it used and cost. */
export interface AccountedRequest {
  finished: Finished;
  usage: Usage;
  estimated: boolean;
  /** The request's cost with its spent attempts'. */
  costUsd: number;
  savedUsd: number;
  /** `performance.now()` when the request was sent on its way (first-token times count from it). */
  sentAt: number;
  /** `performance.now()` when the request ended (its record may be made a moment later). */
  endedAt: number;
  stream: boolean;
}

/**
 * Hands a finished request's record to the store and the trace export (issue 25). Nothing is written
 * here: the record joins this isolate's batch for its tenant, flushed within 250 ms in one RPC to the
 * tenant's ledger (and one Queue send when traces are exported). Returns that flush, for the request's
 * `waitUntil`; it never rejects.
 */
export function recordRequest(c: Context<AppEnv>, accounted: AccountedRequest): Promise<void> {
  const timeline = timelineOf(c);
  if (timeline.recorded) return Promise.resolve();
  timeline.recorded = true;
  if (!recordsKept(c.env)) return Promise.resolve();
  const record = buildRecord(c, timeline, accounted);
  rememberCollector(record.tenant, c.get("tenant").otel);
  return recordBatcher(c.env).add(record.tenant, record);
}

/**
 * A request the pipeline never accounted (refused by validation or a limit before it was served): its
 * record carries only its status and error. Called by the trace middleware once the response is known.
 */
export function recordRefusal(
  c: Context<AppEnv>,
  status: number,
  errorCode: string | undefined,
): Promise<void> {
  const timeline = timelineOf(c);
  if (timeline.accounted || timeline.recorded) return Promise.resolve();
  timeline.errorCode ??= errorCode;
  return recordRequest(c, {
    finished: {
      model: timeline.decision?.askedModel ?? "unknown",
      status,
      outcome: "rejected",
      reachedUpstream: false,
    },
    usage: NO_USAGE,
    estimated: false,
    costUsd: 0,
    savedUsd: 0,
    sentAt: timeline.receivedAt,
    endedAt: performance.now(),
    stream: timeline.decision?.stream ?? false,
  });
}

/** The request's timeline; a request that came in without the trace middleware gets a fresh one. */
export function timelineOf(c: Context<AppEnv>): Timeline {
  let timeline = c.get("timeline");
  if (!timeline) {
    timeline = new Timeline(c.get("receivedAt") ?? performance.now(), Date.now(), traceContext(undefined));
    c.set("timeline", timeline);
  }
  return timeline;
}

function buildRecord(c: Context<AppEnv>, timeline: Timeline, accounted: AccountedRequest): RequestRecord {
  const { finished } = accounted;
  const decision = timeline.decision;
  const events: TimelineEvent[] = [...timeline.events];
  const firstTokenMs =
    finished.firstTokenMs === undefined
      ? undefined
      : round(accounted.sentAt - timeline.receivedAt + finished.firstTokenMs);
  if (firstTokenMs !== undefined) events.push({ kind: "first_token", atMs: firstTokenMs });
  const latencyMs = timeline.sinceReceived(accounted.endedAt);
  events.push({ kind: "end", atMs: latencyMs, status: finished.status });
  const attempts = events.filter((event) => event.kind === "attempt");
  const served = attempts.findLast((event) => event.status === 200);
  const degrade = events.find((event) => event.kind === "degrade");
  const routerKey = c.get("routerKey");
  return {
    id: timeline.id,
    requestId: c.get("requestId"),
    at: timeline.at,
    tenant: c.get("tenant").id,
    ...(routerKey ? { keyId: routerKey.id } : {}),
    ...(decision?.endUser ? { endUser: decision.endUser } : {}),
    surface: c.get("ledgerKey") ? "batch" : (decision?.surface ?? "openai"),
    endpoint: decision?.endpoint ?? c.req.path,
    stream: accounted.stream,
    askedModel: decision?.askedModel ?? finished.model,
    model: finished.model,
    ...(finished.pool ? { pool: finished.pool } : {}),
    ...(served?.target ? { target: served.target } : {}),
    ...(decision ? { classification: decision.classification, route: decision.route } : {}),
    status: finished.status,
    outcome: finished.outcome,
    ...(timeline.errorCode ? { errorCode: timeline.errorCode } : {}),
    ...(finished.finishReason ? { finishReason: finished.finishReason } : {}),
    ...(finished.cache ? { cache: finished.cache } : {}),
    usage: accounted.usage,
    estimated: accounted.estimated,
    costUsd: accounted.costUsd,
    savedUsd: accounted.savedUsd,
    latencyMs,
    ...(firstTokenMs !== undefined ? { firstTokenMs } : {}),
    retries: attempts.filter((event) => event.retried).length,
    fallbacks: events.filter((event) => event.kind === "fallback").length,
    ...(degrade?.reason ? { degraded: degrade.reason } : {}),
    ...(decision?.prompt ? { prompt: decision.prompt } : {}),
    ...(timeline.payload ? { payload: timeline.payload } : {}),
    timeline: events,
    trace: timeline.trace,
  };
}

type RecordEnv = Pick<Env, "TENANT_LEDGER" | "OTEL_TRACES"> & OtelVars;

/**
 * Each tenant's own collector as its latest request here knew it (configured or created through the
 * admin API alike), so a flush and the queue's consumer need no configuration lookup of their own.
 */
const collectors = new Map<string, TenantOtel | undefined>();
const COLLECTORS_MAX = 4_096;

function rememberCollector(tenant: string, otel: TenantOtel | undefined): void {
  if (collectors.size >= COLLECTORS_MAX && !collectors.has(tenant)) collectors.clear();
  collectors.set(tenant, otel);
}

const batchers = new WeakMap<Env["TENANT_LEDGER"], LedgerBatcher<RequestRecord>>();

/** One batcher per ledger binding per isolate: records go to the tenant's ledger, and to the trace queue. */
function recordBatcher(env: RecordEnv): LedgerBatcher<RequestRecord> {
  let batcher = batchers.get(env.TENANT_LEDGER);
  if (!batcher) {
    batcher = new LedgerBatcher<RequestRecord>(
      (tenant, records) =>
        Promise.all([
          env.TENANT_LEDGER.getByName(tenant).recordRequests(records),
          enqueueTraces(env, tenant, records),
        ]),
      (error, records) =>
        console.error(
          JSON.stringify({ event: "request_records_write_failed", records, error: String(error) }),
        ),
    );
    batchers.set(env.TENANT_LEDGER, batcher);
  }
  return batcher;
}

/** A queue message: one flush's records of one tenant, well under the Queue's 128 KB per message. */
export interface TraceBatch {
  tenant: string;
  /** The tenant's own collector, when it names one; otherwise the global one applies. */
  otel?: TenantOtel;
  records: RequestRecord[];
}

/** The estimated JSON size a message may reach; a record's is about 1.3 KB plus its timeline. */
const MESSAGE_BUDGET_BYTES = 96 * 1024;

/**
 * Sends the records to the trace queue when the tenant's traces go somewhere: one message per flush
 * (split only when large), not one per record, since each message has its own cost in the queue.
 */
async function enqueueTraces(env: RecordEnv, tenant: string, records: RequestRecord[]): Promise<void> {
  const otel = collectors.get(tenant);
  if (!otelDestination(env, otel)) return;
  const messages: Array<{ body: TraceBatch; contentType: "v8" }> = [];
  let chunk: RequestRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    if (!record.trace.sampled) continue;
    const size = 1_500 + record.timeline.length * 160;
    if (chunk.length > 0 && bytes + size > MESSAGE_BUDGET_BYTES) {
      messages.push({ body: { tenant, otel, records: chunk }, contentType: "v8" });
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) messages.push({ body: { tenant, otel, records: chunk }, contentType: "v8" });
  if (messages.length > 0) await env.OTEL_TRACES.sendBatch(messages);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
