import { z } from "zod";
import { CACHE_MODES, KV_MIN_TTL_SECONDS } from "../cache/cacheability";
import { KV_MAX_VALUE_BYTES } from "../cache/entry";
import { priceTable } from "./prices";

export const MODEL_TYPES = ["chat", "code", "reasoning", "vision"] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export const CAPABILITIES = ["vision", "tools", "fim", "thinking", "json"] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const PROVIDERS = ["deepseek", "openai-compatible", "workers-ai"] as const;
export type ProviderKind = (typeof PROVIDERS)[number];

const name = z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,63}$/, "use 1-64 characters of [a-z0-9_.:-]");

const target = z.object({
  name,
  /** Fixed by the operator. The router never takes an upstream URL from a caller. */
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .transform((url) => url.replace(/\/+$/, ""))
    .optional(),
  /** Name of the Worker secret holding this target's API key. */
  keySecret: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, "a secret name such as DEEPSEEK_API_KEY")
    .optional(),
  weight: z.number().positive().default(1),
});

const byLatency = z.object({
  interactive: z.number().int().positive(),
  background: z.number().int().positive(),
});

/** How long an upstream may take, per pool; keep-alive comments never count as progress. */
const timeouts = z.object({
  /** From sending to the first token. */
  firstTokenMs: byLatency.default({ interactive: 30_000, background: 120_000 }),
  /** Longest gap between data events once tokens flow. */
  idleMs: z.number().int().positive().default(30_000),
  /** The whole answer, unless the request asks for less with x-router-deadline-ms. */
  totalMs: byLatency.default({ interactive: 300_000, background: 900_000 }),
});
export type PoolTimeouts = z.output<typeof timeouts>;

const retries = z.object({
  /** Retries of the same step before the plan moves on; 0 disables retrying. */
  max: z.number().int().min(0).max(5).default(2),
  baseMs: z.number().int().positive().default(250),
  capMs: z.number().int().positive().default(4_000),
  /** Longer Retry-After asks move on to the next step instead of waiting. */
  retryAfterCapMs: z.number().int().positive().default(10_000),
  /** Retries may add at most this share of a pool's requests (10 s window), plus a small floor. */
  budgetRatio: z.number().min(0).max(1).default(0.1),
});
export type PoolRetries = z.output<typeof retries>;

/** Admission control of a pool (src/admission/, docs/scaling.md). */
const admission = z.object({
  /**
   * Off only for an upstream with no concurrency cap of its own (an autoscaled self-hosted model):
   * requests then skip the gate's round trip, and nothing protects the upstream from a burst.
   */
  enabled: z.boolean().default(true),
  /** Requests waiting for a slot, all priorities together; when full the least important is shed. */
  maxQueue: z.number().int().min(0).max(100_000).default(1_000),
  /** Longest wait for a slot, by latency class; x-router-max-wait-ms may ask for any wait up to the larger. */
  maxWaitMs: byLatency.default({ interactive: 10_000, background: 60_000 }),
  /** Gates the ceiling is split over; past a few hundred requests/s a pool needs more than one. */
  shards: z.number().int().min(1).max(64).default(1),
  /** Learn the upstream's real capacity below the ceiling (AIMD); false keeps the ceiling as a static limit. */
  adaptive: z.boolean().default(true),
  /** A lease the Worker stops renewing (it died mid-stream) frees its slot after this long. */
  leaseTtlMs: z.number().int().min(3_000).max(600_000).default(60_000),
  /**
   * Isolates lease blocks of permits from the gate and admit from them with no round trip (issue 11,
   * docs/scaling.md). Off sends every request to the gate: exact per-request order at one RTT each.
   */
  leaseBlocks: z.boolean().default(true),
  /** A block whose isolate stops renewing it (it died) frees its permits after this long. */
  blockTtlMs: z.number().int().min(1_000).max(60_000).default(10_000),
});
export type PoolAdmission = z.output<typeof admission>;
export const ADMISSION_DEFAULTS: PoolAdmission = {
  enabled: true,
  maxQueue: 1_000,
  maxWaitMs: { interactive: 10_000, background: 60_000 },
  shards: 1,
  adaptive: true,
  leaseTtlMs: 60_000,
  leaseBlocks: true,
  blockTtlMs: 10_000,
};

const pool = z.object({
  provider: z.enum(PROVIDERS),
  targets: z.array(target).min(1),
  /** Router model name → the provider's model id. `*` serves any model routed to this pool. */
  models: z
    .record(z.string(), z.string().min(1))
    .refine((map) => Object.keys(map).length > 0, "at least one model"),
  capabilities: z.array(z.enum(CAPABILITIES)).default([]),
  /** The upstream's concurrency ceiling for this pool, across every edge location. */
  concurrency: z.number().int().positive(),
  /** Prices by router model name; models without an entry use DeepSeek's published prices. */
  prices: priceTable.optional(),
  selection: z.enum(["weighted", "least-inflight", "latency"]).default("latency"),
  timeouts: timeouts.default({
    firstTokenMs: { interactive: 30_000, background: 120_000 },
    idleMs: 30_000,
    totalMs: { interactive: 300_000, background: 900_000 },
  }),
  retries: retries.default({ max: 2, baseMs: 250, capMs: 4_000, retryAfterCapMs: 10_000, budgetRatio: 0.1 }),
  admission: admission.default(ADMISSION_DEFAULTS),
});

const CACHE_DEFAULTS = {
  enabled: true,
  ttlSeconds: 3600,
  maxTtlSeconds: 7 * 24 * 3600,
  maxEntryBytes: 1024 * 1024,
  routes: {},
};

const cacheSettings = z.object({
  enabled: z.boolean().default(CACHE_DEFAULTS.enabled),
  /** How long an answer stays cached unless the request's `Cache-Control: max-age` says otherwise. */
  ttlSeconds: z.number().int().min(KV_MIN_TTL_SECONDS).default(CACHE_DEFAULTS.ttlSeconds),
  /** The longest TTL a request may ask for. */
  maxTtlSeconds: z.number().int().min(KV_MIN_TTL_SECONDS).default(CACHE_DEFAULTS.maxTtlSeconds),
  /** Larger answers are not stored (KV's own limit is 25 MiB). */
  maxEntryBytes: z.number().int().positive().max(KV_MAX_VALUE_BYTES).default(CACHE_DEFAULTS.maxEntryBytes),
  /** Per model type (route): "on" caches every request, "off" none; default only temperature 0. */
  routes: z.partialRecord(z.enum(MODEL_TYPES), z.enum(CACHE_MODES)).default(CACHE_DEFAULTS.routes),
});

const typeRecord = <T extends z.ZodType>(schema: T) =>
  z.object({ chat: schema, code: schema, reasoning: schema, vision: schema });

export const policySchema = z
  .object({
    pools: z.record(name, pool),
    /** Model type → pools in order of preference; later pools are fallbacks. */
    routes: z.object({
      chat: z.array(name).min(1),
      code: z.array(name).min(1),
      reasoning: z.array(name).min(1),
      vision: z.array(name).default([]),
    }),
    /** Extra model names callers may use, each standing for a served model. */
    aliases: z.record(z.string(), z.string()).default({}),
    /** Expected output tokens when a request sets no max_tokens. */
    defaultOutputTokens: typeRecord(z.number().int().positive()).default({
      chat: 600,
      code: 400,
      reasoning: 3000,
      vision: 500,
    }),
    degrade: z
      .object({
        /** Model → a cheaper, less loaded model that may serve it when degradation is allowed. */
        models: z.record(z.string(), z.string()).default({ "deepseek-v4-pro": "deepseek-v4-flash" }),
        /** A reasoning request may be answered by the same model with thinking disabled. */
        reasoningToChat: z.boolean().default(true),
      })
      .default({ models: { "deepseek-v4-pro": "deepseek-v4-flash" }, reasoningToChat: true }),
    /** The prompt cache (src/cache/, docs/storage-schema.md). */
    cache: cacheSettings.default(CACHE_DEFAULTS),
  })
  .superRefine((policy, ctx) => {
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
  });

export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type PoolSpec = Policy["pools"][string];
export type TargetSpec = PoolSpec["targets"][number];
