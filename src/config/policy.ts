import * as z from "../zod";
import { CACHE_MODES, KV_MAX_VALUE_BYTES, KV_MIN_TTL_SECONDS } from "./cache-limits";
import { priceTable } from "./prices";
import { httpBaseUrl } from "./settings";

export const MODEL_TYPES = ["chat", "code", "reasoning", "vision"] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export const CAPABILITIES = ["vision", "tools", "fim", "thinking", "json"] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const PROVIDERS = ["deepseek", "openai-compatible", "workers-ai"] as const;
export type ProviderKind = (typeof PROVIDERS)[number];

const name = z.string().check(z.regex(/^[a-z0-9][a-z0-9_.:-]{0,63}$/, "use 1-64 characters of [a-z0-9_.:-]"));

const target = z.object({
  name,
  /** Fixed by the operator. The router never takes an upstream URL from a caller. */
  baseUrl: z.optional(httpBaseUrl),
  /** Name of the Worker secret holding this target's API key. */
  keySecret: z.optional(
    z.string().check(z.regex(/^[A-Z][A-Z0-9_]*$/, "a secret name such as DEEPSEEK_API_KEY")),
  ),
  weight: z._default(z.number().check(z.positive()), 1),
});

const positiveInt = z.int().check(z.positive());
const intIn = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

const byLatency = z.object({
  interactive: positiveInt,
  background: positiveInt,
});

/** How long an upstream may take, per pool; keep-alive comments never count as progress. */
const timeouts = z.object({
  /** From sending to the first token. */
  firstTokenMs: z._default(byLatency, { interactive: 30_000, background: 120_000 }),
  /** Longest gap between data events once tokens flow. */
  idleMs: z._default(positiveInt, 30_000),
  /** The whole answer, unless the request asks for less with x-router-deadline-ms. */
  totalMs: z._default(byLatency, { interactive: 300_000, background: 900_000 }),
});

const retries = z.object({
  /** Retries of the same step before the plan moves on; 0 disables retrying. */
  max: z._default(intIn(0, 5), 2),
  baseMs: z._default(positiveInt, 250),
  capMs: z._default(positiveInt, 4_000),
  /** Longer Retry-After asks move on to the next step instead of waiting. */
  retryAfterCapMs: z._default(positiveInt, 10_000),
  /** Retries may add at most this share of a pool's requests (10 s window), plus a small floor. */
  budgetRatio: z._default(z.number().check(z.gte(0), z.lte(1)), 0.1),
});
export type PoolRetries = z.output<typeof retries>;

/** Admission control of a pool (src/admission/, docs/scaling.md). */
const admission = z.object({
  /**
   * Off only for an upstream with no concurrency cap of its own (an autoscaled self-hosted model):
   * requests then skip the gate's round trip, and nothing protects the upstream from a burst.
   */
  enabled: z._default(z.boolean(), true),
  /** Requests waiting for a slot, all priorities together; when full the least important is shed. */
  maxQueue: z._default(intIn(0, 100_000), 1_000),
  /** Longest wait for a slot, by latency class; x-router-max-wait-ms may ask for any wait up to the larger. */
  maxWaitMs: z._default(byLatency, { interactive: 10_000, background: 60_000 }),
  /** Gates the ceiling is split over; past a few hundred requests/s a pool needs more than one. */
  shards: z._default(intIn(1, 64), 1),
  /** Learn the upstream's real capacity below the ceiling (AIMD); false keeps the ceiling as a static limit. */
  adaptive: z._default(z.boolean(), true),
  /** A lease the Worker stops renewing (it died mid-stream) frees its slot after this long. */
  leaseTtlMs: z._default(intIn(3_000, 600_000), 60_000),
  /**
   * Isolates lease blocks of permits from the gate and admit from them with no round trip (issue 11,
   * docs/scaling.md). Off sends every request to the gate: exact per-request order at one RTT each.
   */
  leaseBlocks: z._default(z.boolean(), true),
  /** A block whose isolate stops renewing it (it died) frees its permits after this long. */
  blockTtlMs: z._default(intIn(1_000, 60_000), 10_000),
  /**
   * An upstream counts a call until it notices the abort; the slot of a call the router cut (its
   * client left, a deadline passed) is kept this long after the cut, so the ceiling holds as the
   * upstream counts it. Set it to the upstream's abort-notice time: about a round trip, plus margin.
   */
  abortHoldMs: z._default(intIn(0, 30_000), 1_000),
});
type PoolAdmission = z.output<typeof admission>;
const ADMISSION_DEFAULTS: PoolAdmission = {
  enabled: true,
  maxQueue: 1_000,
  maxWaitMs: { interactive: 10_000, background: 60_000 },
  shards: 1,
  adaptive: true,
  leaseTtlMs: 60_000,
  leaseBlocks: true,
  blockTtlMs: 10_000,
  abortHoldMs: 1_000,
};

const pool = z.object({
  provider: z.enum(PROVIDERS),
  targets: z.array(target).check(z.minLength(1)),
  /** Router model name → the provider's model id. `*` serves any model routed to this pool. */
  models: z
    .record(z.string(), z.string().check(z.minLength(1)))
    .check(z.refine((map) => Object.keys(map).length > 0, "at least one model")),
  capabilities: z._default(z.array(z.enum(CAPABILITIES)), []),
  /** The upstream's concurrency ceiling for this pool, across every edge location. */
  concurrency: positiveInt,
  /** Prices by router model name; models without an entry use DeepSeek's published prices. */
  prices: z.optional(priceTable),
  selection: z._default(z.enum(["weighted", "least-inflight", "latency"]), "latency"),
  timeouts: z._default(timeouts, {
    firstTokenMs: { interactive: 30_000, background: 120_000 },
    idleMs: 30_000,
    totalMs: { interactive: 300_000, background: 900_000 },
  }),
  retries: z._default(retries, {
    max: 2,
    baseMs: 250,
    capMs: 4_000,
    retryAfterCapMs: 10_000,
    budgetRatio: 0.1,
  }),
  admission: z._default(admission, ADMISSION_DEFAULTS),
});

const CACHE_DEFAULTS = {
  enabled: true,
  ttlSeconds: 3600,
  maxTtlSeconds: 7 * 24 * 3600,
  maxEntryBytes: 1024 * 1024,
  routes: {},
};

const cacheSettings = z.object({
  enabled: z._default(z.boolean(), CACHE_DEFAULTS.enabled),
  /** How long an answer stays cached unless the request's `Cache-Control: max-age` says otherwise. */
  ttlSeconds: z._default(z.int().check(z.gte(KV_MIN_TTL_SECONDS)), CACHE_DEFAULTS.ttlSeconds),
  /** The longest TTL a request may ask for. */
  maxTtlSeconds: z._default(z.int().check(z.gte(KV_MIN_TTL_SECONDS)), CACHE_DEFAULTS.maxTtlSeconds),
  /** Larger answers are not stored (KV's own limit is 25 MiB). */
  maxEntryBytes: z._default(positiveInt.check(z.lte(KV_MAX_VALUE_BYTES)), CACHE_DEFAULTS.maxEntryBytes),
  /** Per model type (route): "on" caches every request, "off" none; default only temperature 0. */
  routes: z._default(z.partialRecord(z.enum(MODEL_TYPES), z.enum(CACHE_MODES)), CACHE_DEFAULTS.routes),
});

const typeRecord = <T extends z.ZodMiniType>(schema: T) =>
  z.object({ chat: schema, code: schema, reasoning: schema, vision: schema });

export const policySchema = z
  .object({
    pools: z.record(name, pool),
    /** Model type → pools in order of preference; later pools are fallbacks. */
    routes: z.object({
      chat: z.array(name).check(z.minLength(1)),
      code: z.array(name).check(z.minLength(1)),
      reasoning: z.array(name).check(z.minLength(1)),
      vision: z._default(z.array(name), []),
    }),
    /** Extra model names callers may use, each standing for a served model. */
    aliases: z._default(z.record(z.string(), z.string()), {}),
    /** Expected output tokens when a request sets no max_tokens. */
    defaultOutputTokens: z._default(typeRecord(positiveInt), {
      chat: 600,
      code: 400,
      reasoning: 3000,
      vision: 500,
    }),
    degrade: z._default(
      z.object({
        /** Model → a cheaper, less loaded model that may serve it when degradation is allowed. */
        models: z._default(z.record(z.string(), z.string()), { "deepseek-v4-pro": "deepseek-v4-flash" }),
        /** A reasoning request may be answered by the same model with thinking disabled. */
        reasoningToChat: z._default(z.boolean(), true),
      }),
      { models: { "deepseek-v4-pro": "deepseek-v4-flash" }, reasoningToChat: true },
    ),
    /** The prompt cache (src/cache/, docs/storage-schema.md). */
    cache: z._default(cacheSettings, CACHE_DEFAULTS),
  })
  .check(
    z.superRefine((policy, ctx) => {
      for (const [type, pools] of Object.entries(policy.routes)) {
        pools.forEach((poolName, index) => {
          if (!policy.pools[poolName]) {
            ctx.addIssue({
              code: "custom",
              path: ["routes", type, index],
              message: `unknown pool '${poolName}'`,
            });
          }
        });
      }
      for (const [poolName, spec] of Object.entries(policy.pools)) {
        if (spec.admission.shards > spec.concurrency) {
          ctx.addIssue({
            code: "custom",
            path: ["pools", poolName, "admission", "shards"],
            message: `${spec.admission.shards} shards cannot split a concurrency of ${spec.concurrency}`,
          });
        }
        spec.targets.forEach((t, index) => {
          if (spec.provider !== "workers-ai" && (!t.baseUrl || !t.keySecret)) {
            ctx.addIssue({
              code: "custom",
              path: ["pools", poolName, "targets", index],
              message: `a ${spec.provider} target needs baseUrl and keySecret`,
            });
          }
        });
      }
      const served = new Set(Object.values(policy.pools).flatMap((p) => Object.keys(p.models)));
      for (const [alias, model] of Object.entries(policy.aliases)) {
        if (!served.has(model)) {
          ctx.addIssue({
            code: "custom",
            path: ["aliases", alias],
            message: `'${model}' is not served by any pool`,
          });
        }
      }
    }),
  );

export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type PoolSpec = Policy["pools"][string];
export type TargetSpec = PoolSpec["targets"][number];
