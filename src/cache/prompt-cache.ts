import type { AnswerObserver, Finished } from "../answer";
import { usageCostUsd } from "../classify/catalog";
import type { Classification, InferenceCall } from "../classify/classify";
import type { Policy } from "../config/policy";
import type { Tenant } from "../config/tenants";
import { type ErrorCode, toRouterError } from "../errors";
import type { PlanStep, RoutePlan } from "../routing/plan";
import { type WireEndpoint, wireOf } from "../surfaces";
import { replayJson, replaySse } from "../surfaces/replay";
import { parse } from "../surfaces/scan";
import { sseResponse } from "../upstream/sse";
import type { Usage } from "../usage";
import { type CacheDecision, decideCaching } from "./cacheability";
import { type CapturedAnswer, captureAnswer } from "./capture";
import { countCache } from "./counting";
import { ageSeconds, type CacheEntry, encodeEntry, storeVerdict } from "./entry";
import { type Flight, isInFlight, joinOrLead, land } from "./flight";
import { follow } from "./follow";
import { CACHE_FORMAT_VERSION, type CacheId, cacheId, formatCacheId, scopeFor } from "./key";
import type { CacheCounters } from "./stats";
import { CacheStore } from "./store";

export type CacheStatus = "HIT" | "MISS" | "BYPASS" | "COALESCED";

export interface CacheLookup {
  call: InferenceCall;
  classification: Classification;
  plan: RoutePlan;
  /** The request's decision headers; the cache adds its own and copies them onto the answers it serves. */
  headers: Headers;
  signal: AbortSignal;
  /** The request's deadline: a follower waits for the answer it joined no longer than this. */
  totalAt: number;
  /** Accounts for an answer the cache served, once it has ended. */
  account(finished: Finished): void;
  tenant: Tenant;
  /** A frontend token's verified end user, whose entries are its own (see `KeyMaterial.endUser`). */
  endUser: string | undefined;
  policy: Policy;
  /** What the request said about caching: its `cache-control` and `x-router-cache` headers. */
  cacheControl: string | undefined;
  routerCache: string | undefined;
  /** The bindings the cache reads, writes and counts with. */
  env: Env;
  /** Keeps work (writes, counts) alive past the response. */
  waitUntil(work: Promise<unknown>): void;
}

/** What the cache made of a request: an answer it served, or how the upstream's answer is to be kept. */
export interface PromptCache {
  status: CacheStatus;
  /** HIT or COALESCED: the answer, with no upstream call and no concurrency slot. */
  served?: Response;
  /**
   * For the request that goes upstream: watches its answer, shares it with identical requests that
   * arrive meanwhile, and stores it (in `waitUntil`) if it completed and may be kept.
   */
  observe(step: PlanStep, target: string, kind: "stream" | "json"): AnswerObserver;
  /** The request that went upstream failed before answering; `abandoned` when its own client left. */
  fail(error: unknown, abandoned: boolean): void;
  /**
   * What stops the request's upstream call: its caller's `departure`, except that while identical
   * requests read the answer it is streaming, the call goes on for them until the last of them stops.
   */
  upstreamSignal(departure: AbortSignal): AbortSignal;
}

type Count = (delta: Partial<CacheCounters>) => void;

const PASSIVE = {
  observe: () => ({ end() {} }),
  fail() {},
  upstreamSignal: (departure) => departure,
} satisfies Omit<PromptCache, "status">;
/**
 * Failures that say something about the upstream, so every identical request would meet them too. Any
 * other failure is the leader's own (its deadline, its wait, its tenant's limit, its client leaving):
 * its followers try for themselves, and never see another request's, or another tenant's, error.
 */
const UPSTREAM_VERDICTS: ReadonlySet<ErrorCode> = new Set([
  "upstream_error",
  "upstream_unavailable",
  "upstream_auth",
  "rate_limited",
  "invalid_request",
]);
/**
 * How long a leader whose client left keeps its upstream call going for its followers. The platform
 * runs a request's remaining work at most 30 s after its client disconnects; stopping first cuts the
 * followers' answers with an error event, instead of leaving them waiting on a request that is gone.
 */
const OUTLIVE_CLIENT_MS = 25_000;
/** A follower whose leader keeps failing for its own reasons tries to lead at most this often, then goes alone. */
const MAX_ELECTIONS = 5;

/**
 * The prompt cache in the request path, after planning and before admission: decide, derive the key,
 * join an identical request in flight or serve a fresh entry (L1, then KV); otherwise the caller goes
 * upstream and hands the answer back through `observe`.
 */
export async function lookupCache(lookup: CacheLookup): Promise<PromptCache> {
  const { tenant, policy, env } = lookup;
  const { call, classification, plan, headers } = lookup;
  const background = (work: Promise<unknown>) => lookup.waitUntil(work);
  const count: Count = (delta) => countCache(env, background, tenant.id, delta);

  const decision = decideCaching({
    temperature: call.request.body.temperature,
    cacheControl: lookup.cacheControl,
    routerCache: lookup.routerCache,
    settings: policy.cache,
    tenantMode: tenant.cache,
    routeMode: policy.cache.routes[classification.type],
  });
  const keyed = plan.steps[0];
  if (!decision.cacheable || !keyed) {
    headers.set("x-router-cache", "BYPASS");
    count({ bypasses: 1 });
    return { status: "BYPASS", ...PASSIVE };
  }

  // Another front door's request is keyed by its own body and answered in its own format.
  const wire = wireOf(call);
  const id = await cacheId({
    scope: scopeFor(tenant.id, tenant.cacheScope),
    endpoint: wire.endpoint,
    beta: call.beta,
    body: wire.body,
    resolvedModel: keyed.model,
    upstreamModel: keyed.upstreamModel,
    disableThinking: keyed.disableThinking,
    endUser: lookup.endUser,
  });
  const key = formatCacheId(id);
  headers.set("x-router-cache-key", key);
  const keeping: Keeping = {
    store: new CacheStore(env.CACHE, caches.default),
    id,
    key,
    decision,
    endpoint: wire.endpoint,
    keyedStep: keyed,
    maxBytes: policy.cache.maxEntryBytes,
    count,
    background,
  };
  const answered = await answerFromCache(lookup, keeping);
  if ("status" in answered) return answered;
  headers.set("x-router-cache", "MISS");
  return missed(keeping, answered.leading);
}

/**
 * A fresh entry (memory, Cache API, KV) or an identical request in flight answers this one. A follower
 * whose leader failed for the leader's own reasons competes to lead instead, at most MAX_ELECTIONS
 * times. Otherwise the caller leads: it goes upstream for everyone who joins meanwhile.
 */
async function answerFromCache(
  lookup: CacheLookup,
  keeping: Keeping,
): Promise<PromptCache | { leading: Flight | undefined }> {
  const { store, id, key, decision, count } = keeping;
  const { headers, policy } = lookup;
  const stream = lookup.call.request.body.stream === true;
  const priceSaving = (model: string, usage: Usage | undefined) => savedUsd(policy, model, usage);
  for (let election = 0; decision.mode === "use" && election < MAX_ELECTIONS; election++) {
    if (!isInFlight(key, Date.now())) {
      const found = await store
        .get(id, Date.now(), decision.maxAgeSeconds, keeping.background)
        .catch(logReadFailure);
      if (found) {
        const hit = hitResponse(
          found.entry,
          stream,
          headers,
          priceSaving(found.entry.model, found.entry.usage),
        );
        count({ hits: 1, bytesServed: hit.bytes, savedUsd: hit.savedUsd });
        lookup.account({
          model: found.entry.model,
          status: 200,
          outcome: "complete",
          finishReason: found.entry.finishReason,
          reachedUpstream: false,
          cache: "HIT",
          savedUsd: hit.savedUsd,
          upstreamMs: 0,
        });
        return { status: "HIT", served: hit.response, ...PASSIVE };
      }
    }
    // Nothing awaits between this check and registering, so two misses of one isolate cannot both lead.
    const joined = joinOrLead(key, Date.now(), lookup.totalAt);
    if (joined.role === "leader") return { leading: joined.flight };
    const followed = await follow(joined.flight, {
      endpoint: keeping.endpoint,
      model: lookup.classification.model,
      stream,
      headers,
      signal: lookup.signal,
      totalAt: lookup.totalAt,
      priceSaving,
      onEnd: (finished) => {
        if (finished.savedUsd) count({ savedUsd: finished.savedUsd });
        lookup.account(finished);
      },
    });
    if (followed !== "lead") {
      count({ coalesced: 1 });
      return { status: "COALESCED", served: followed, ...PASSIVE };
    }
  }
  return { leading: undefined };
}

/**
 * The request goes upstream: its answer is shared with the followers of `leading` as it comes, and
 * kept if it may be. Until its entry is written, identical requests keep joining the finished flight
 * instead of missing.
 */
function missed(keeping: Keeping, leading: Flight | undefined): PromptCache {
  const { key, decision, count, background } = keeping;
  count(decision.mode === "refresh" ? { misses: 1, refreshes: 1 } : { misses: 1 });
  const landAfter = (write: Promise<void> | undefined) => {
    if (!leading) {
      if (write) background(write);
    } else if (write) background(write.finally(() => land(key, leading)));
    else land(key, leading);
  };
  return {
    status: "MISS",
    observe(step, target, kind) {
      leading?.answering(kind, { model: step.model, pool: step.pool, target, degraded: step.degraded });
      const capture = captureAnswer(kind, keeping.maxBytes, (answer) => {
        leading?.end(answer.end);
        landAfter(keep(keeping, answer, step));
      });
      return {
        chunk(bytes) {
          leading?.push(bytes);
          capture.chunk?.(bytes);
        },
        event: capture.event,
        end: capture.end,
      };
    },
    fail(error, abandoned) {
      landAfter(undefined);
      const verdict = toRouterError(error);
      leading?.fail(abandoned || !UPSTREAM_VERDICTS.has(verdict.code) ? "abandoned" : verdict);
    },
    // The upstream's tokens are billed to this request as before; its followers' answers (and the
    // cache entry) are whole instead of cut.
    upstreamSignal: (departure) => leading?.upstreamSignal(departure, OUTLIVE_CLIENT_MS) ?? departure,
  };
}

/** Where and how a request's answer is kept: fixed when its key is derived. */
interface Keeping {
  store: CacheStore;
  id: CacheId;
  /** `id` as the flights of this isolate and the admin purge name it. */
  key: string;
  decision: CacheDecision;
  endpoint: WireEndpoint;
  /** The step the key was derived for; an answer served by another step is not kept under it. */
  keyedStep: PlanStep;
  maxBytes: number;
  count: Count;
  background(work: Promise<unknown>): void;
}

/** Stores a finished answer if it may be kept; returns the write, which runs off the response path. */
function keep(keeping: Keeping, answer: CapturedAnswer, servedStep: PlanStep): Promise<void> | undefined {
  const { store, id, decision, endpoint, keyedStep, maxBytes, count } = keeping;
  const { end } = answer;
  const servedOtherwise =
    servedStep.model !== keyedStep.model ||
    servedStep.upstreamModel !== keyedStep.upstreamModel ||
    servedStep.disableThinking !== keyedStep.disableThinking ||
    servedStep.degraded !== undefined;
  const bytes = answer.oversize ? Number.POSITIVE_INFINITY : answer.bytes;
  // The relay only skims most events, so the cache checks what it would replay: each a JSON object.
  const malformed = answer.kind === "stream" && answer.events.some((event) => parse(event) === undefined);
  const verdict = storeVerdict(
    { outcome: end.outcome, finishReason: end.finishReason, bytes, servedOtherwise, malformed },
    maxBytes,
  );
  if (!verdict.store || !end.finishReason) {
    if (end.outcome === "complete") count({ notStored: 1 });
    return undefined;
  }
  const now = Date.now();
  const base = {
    v: CACHE_FORMAT_VERSION,
    endpoint,
    model: servedStep.model,
    storedAt: now,
    expiresAt: now + decision.ttlSeconds * 1000,
    finishReason: end.finishReason,
    ...(end.usage ? { usage: end.usage } : {}),
  };
  const entry: CacheEntry =
    answer.kind === "stream"
      ? { ...base, kind: "stream", events: answer.events }
      : { ...base, kind: "json", json: answer.json };
  const text = encodeEntry(entry);
  const size = new TextEncoder().encode(text).byteLength;
  if (size > maxBytes) {
    count({ notStored: 1 });
    return undefined;
  }
  return store.put(id, text, entry, now).then(
    () => count({ stores: 1, bytesStored: size }),
    (error: unknown) => {
      // KV allows one write per key per second; a refresh racing a store can lose. Nothing is served wrong.
      console.error(
        JSON.stringify({ event: "cache_store_failed", key: formatCacheId(id), error: String(error) }),
      );
    },
  );
}

function hitResponse(
  entry: CacheEntry,
  stream: boolean,
  decisionHeaders: Headers,
  saved: number,
): { response: Response; bytes: number; savedUsd: number } {
  const headers = new Headers(decisionHeaders);
  headers.set("x-router-cache", "HIT");
  headers.set("age", String(ageSeconds(entry, Date.now())));
  headers.set("x-router-model", entry.model);
  headers.set("x-router-cost-usd", "0");
  headers.set("x-router-saved-usd", saved.toFixed(8));
  if (stream) {
    const body = replaySse(entry);
    return { response: sseResponse(body, headers), bytes: body.byteLength, savedUsd: saved };
  }
  const body = new TextEncoder().encode(replayJson(entry));
  headers.set("content-type", "application/json");
  return { response: new Response(body, { status: 200, headers }), bytes: body.byteLength, savedUsd: saved };
}

/** What the answer would cost upstream now: the usage it reported, at the prices in force. */
function savedUsd(policy: Policy, model: string, usage: Usage | undefined): number {
  return usage ? usageCostUsd(policy, model, usage, Date.now()) : 0;
}

/** A cache that cannot be read is a miss, never an error the caller sees. */
function logReadFailure(error: unknown): undefined {
  console.error(JSON.stringify({ event: "cache_read_failed", error: String(error) }));
  return undefined;
}
