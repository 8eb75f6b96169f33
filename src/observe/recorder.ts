import type { Context } from "hono";
import type { Finished } from "../answer";
import type { AppEnv } from "../env";
import { LedgerBatcher } from "../ledger/batcher";
import { type RequestRecord, surfaceOf, Timeline, type TimelineEvent, traceContext } from "../trace";
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
  const pending = pendingRecord(record);
  const held = heldWrites.get(timeline);
  if (held) writtenBefore.set(pending, held);
  return recordBatcher(c.env).add(record.tenant, pending);
}

/**
 * A record in its isolate's batch: its JSON, made once when its request ends (the ledger stores that
 * text, the queue carries it, and strings cross the RPC far cheaper than objects). For the up to 250 ms
 * a batch waits, it keeps one string per record alive, not the record's objects.
 */
export interface PendingRecord {
  json: string;
  /** Whether its trace is exported (the caller's `traceparent` may say not). */
  sampled: boolean;
}

export function pendingRecord(record: RequestRecord): PendingRecord {
  return { json: JSON.stringify(record), sampled: record.trace.sampled };
}

/** A write a request's record flush also waits for: its captured payload's. */
const heldWrites = new WeakMap<Timeline, Promise<unknown>>();
/** What must be written before a record is: a record is never listed before its payload can be read. */
const writtenBefore = new WeakMap<PendingRecord, Promise<unknown>>();

/**
 * Makes the record's flush (held in the request's `waitUntil` by its accounting) wait for `write`
 * first, so the write needs no `waitUntil` of its own. False when the record was already handed over:
 * then the caller must hold the write itself.
 */
export function holdWithRecord(timeline: Timeline, write: Promise<unknown>): boolean {
  if (timeline.recorded) return false;
  heldWrites.set(timeline, write);
  return true;
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
      model: timeline.askedModel ?? "unknown",
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

/**
 * The record, built in one pass over the timeline. Optional fields are set only when known (the
 * stored JSON leaves them out), in the order a reader sees them.
 */
function buildRecord(c: Context<AppEnv>, timeline: Timeline, accounted: AccountedRequest): RequestRecord {
  const { finished } = accounted;
  const decision = timeline.decision;
  const events: TimelineEvent[] = timeline.events.slice();
  const firstTokenMs =
    finished.firstTokenMs === undefined
      ? undefined
      : round(accounted.sentAt - timeline.receivedAt + finished.firstTokenMs);
  if (firstTokenMs !== undefined) events.push({ kind: "first_token", atMs: firstTokenMs });
  const latencyMs = timeline.sinceReceived(accounted.endedAt);
  events.push({ kind: "end", atMs: latencyMs, status: finished.status });
  let served: TimelineEvent | undefined;
  let degrade: TimelineEvent | undefined;
  let retries = 0;
  let fallbacks = 0;
  events.forEach((event, index) => {
    if (event.kind === "attempt") {
      // The answering attempt was timed to its answer's start (a stream's first event); the call it
      // made lasted until the request ended, which is what its span and its bar should show.
      if (event.status === 200)
        events[index] = served = { ...event, durationMs: round(latencyMs - event.atMs) };
      if (event.retried) retries++;
    } else if (event.kind === "fallback") fallbacks++;
    else if (event.kind === "degrade") degrade ??= event;
  });
  const record: RequestRecord = {
    id: timeline.id,
    requestId: c.get("requestId"),
    at: timeline.at,
    tenant: c.get("tenant").id,
    // A batch line books under `batch:…` (batch/consumer.ts); a kept answer's owner (`owned:…`) keeps its surface.
    surface: c.get("ledgerKey")?.startsWith("batch:")
      ? "batch"
      : (decision?.surface ?? surfaceOf(timeline.endpoint)),
    endpoint: decision?.endpoint ?? timeline.endpoint ?? c.req.path,
    stream: accounted.stream,
    askedModel: timeline.askedModel ?? finished.model,
    model: finished.model,
    status: finished.status,
    outcome: finished.outcome,
    usage: accounted.usage,
    estimated: accounted.estimated,
    costUsd: accounted.costUsd,
    savedUsd: accounted.savedUsd,
    latencyMs,
    retries,
    fallbacks,
    timeline: events,
    trace: timeline.trace,
  };
  const keyId = c.get("routerKey")?.id;
  if (keyId) record.keyId = keyId;
  if (decision?.endUser) record.endUser = decision.endUser;
  if (finished.pool) record.pool = finished.pool;
  if (served?.target) record.target = served.target;
  if (decision) {
    record.classification = decision.classification;
    record.route = decision.route;
  }
  if (timeline.errorCode) record.errorCode = timeline.errorCode;
  if (finished.finishReason) record.finishReason = finished.finishReason;
  if (finished.cache) record.cache = finished.cache;
  if (firstTokenMs !== undefined) record.firstTokenMs = firstTokenMs;
  if (degrade?.reason) record.degraded = degrade.reason;
  if (decision?.prompt) record.prompt = decision.prompt;
  if (timeline.payload) record.payload = timeline.payload;
  return record;
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

const batchers = new WeakMap<Env["TENANT_LEDGER"], LedgerBatcher<PendingRecord>>();

/** One batcher per ledger binding per isolate: records go to the tenant's ledger, and to the trace queue. */
function recordBatcher(env: RecordEnv): LedgerBatcher<PendingRecord> {
  let batcher = batchers.get(env.TENANT_LEDGER);
  if (!batcher) {
    batcher = new LedgerBatcher<PendingRecord>(
      (tenant, records) => writeRecords(env, tenant, records),
      (error, records) =>
        console.error(
          JSON.stringify({ event: "request_records_write_failed", records, error: String(error) }),
        ),
    );
    batchers.set(env.TENANT_LEDGER, batcher);
  }
  return batcher;
}

/** Each flush's (record array's) trace send: a retried flush must not export its spans twice. */
const traceSends = new WeakMap<PendingRecord[], Promise<void>>();

/**
 * One flush of a tenant's records: into its ledger, and onto the trace queue. The batcher retries a
 * failed flush with the same array: the ledger ignores records it already holds, and traces queued
 * (or being queued) are not queued again.
 */
export async function writeRecords(env: RecordEnv, tenant: string, records: PendingRecord[]): Promise<void> {
  await Promise.all(records.map((record) => writtenBefore.get(record)));
  let traces = traceSends.get(records);
  if (!traces) {
    // A send that failed is tried again with the flush; one in flight or done is not.
    traces = enqueueTraces(env, tenant, records).catch((error: unknown) => {
      traceSends.delete(records);
      throw error;
    });
    traceSends.set(records, traces);
  }
  const texts = records.map((record) => record.json);
  await Promise.all([env.TENANT_LEDGER.getByName(tenant).recordRequests(texts), traces]);
}

/**
 * A queue message: one flush's records of one tenant, well under the Queue's 128 KB per message. Sent
 * as its JSON text (`contentType: "text"`), built from the records' JSON the ledger stores too.
 */
export interface TraceBatch {
  tenant: string;
  /** The tenant's own collector, when it names one; otherwise the global one applies. */
  otel?: TenantOtel;
  records: RequestRecord[];
}

/** The most UTF-8 bytes of records a message carries (the Queue takes 128 KB a message). */
const MESSAGE_BUDGET_BYTES = 96 * 1024;

/**
 * Sends the records to the trace queue when the tenant's traces go somewhere: one message per flush
 * (split only when large), not one per record, since each message has its own cost in the queue.
 */
async function enqueueTraces(env: RecordEnv, tenant: string, records: PendingRecord[]): Promise<void> {
  const otel = collectors.get(tenant);
  if (!otelDestination(env, otel)) return;
  const head = `{"tenant":${JSON.stringify(tenant)},${otel ? `"otel":${JSON.stringify(otel)},` : ""}"records":[`;
  const messages: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const record of records) {
    if (!record.sampled) continue;
    const size = utf8Length(record.json) + 1;
    // No record comes near this (every field a caller sets is capped); one that did would fail its
    // whole flush on every retry, so it goes unexported and says so.
    if (size > MESSAGE_BUDGET_BYTES) {
      console.error(JSON.stringify({ event: "trace_record_too_large", tenant, bytes: size }));
      continue;
    }
    if (chunk.length > 0 && bytes + size > MESSAGE_BUDGET_BYTES) {
      messages.push(`${head}${chunk.join(",")}]}`);
      chunk = [];
      bytes = 0;
    }
    chunk.push(record.json);
    bytes += size;
  }
  if (chunk.length > 0) messages.push(`${head}${chunk.join(",")}]}`);
  // Two messages a call stay under the Queue's 256 KB per `sendBatch`.
  for (let i = 0; i < messages.length; i += 2) {
    await env.OTEL_TRACES.sendBatch(
      messages.slice(i, i + 2).map((body) => ({ body, contentType: "text" as const })),
    );
  }
}

/** UTF-8 length without encoding: most records are ASCII. */
function utf8Length(text: string): number {
  return /[\u0080-\uffff]/.test(text) ? new TextEncoder().encode(text).length : text.length;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
