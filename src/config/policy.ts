import { z } from "zod";
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
