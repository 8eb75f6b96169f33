import { z } from "zod";

/** Which generation of the DeepSeek API to imitate (model names, limits, id formats, error codes). */
export type Era = "v41" | "v4" | "legacy";

/** What to do with a request that arrives while its API key already has `concurrency` requests in flight. */
export type OverloadMode = "reject429" | "queue" | "reject503";

/** HTTP statuses the fault injector can answer with instead of serving the request. */
export type FaultStatus = 429 | 500 | 502 | 503 | 504;

/**
 * One injected fault. `faultScript` applies these to the next requests in order; the rates in `faults`
 * draw them at random (seeded). Omitted fields fall back to the matching `faults` setting or a seeded pick.
 */
export type FaultSpec =
  | { kind: "none" }
  | { kind: "status"; status: FaultStatus }
  /** Reset the connection after `afterChunks` data events (stream) or half the body (non-stream). */
  | { kind: "cutMidStream"; afterChunks?: number }
  /** 200 and headers, then nothing (keep-alives if enabled) for `ms`, then close without data. */
  | { kind: "stallBeforeFirstToken"; ms?: number; keepAlive?: boolean }
  /** Stop after `afterChunks` data events: no finish_reason, no [DONE]; close after `ms`. */
  | { kind: "stallMidStream"; afterChunks?: number; ms?: number; keepAlive?: boolean }
  /** 200 whose body is only `lines` keep-alives (`\n`, or `: keep-alive` for streams), spread over `afterMs`. */
  | { kind: "blankBody"; lines?: number; afterMs?: number }
  /** A stream with one data event that is not JSON after `afterChunks` events; the answer goes on to `[DONE]`. */
  | { kind: "malformedEvent"; afterChunks?: number }
  /** End the answer early with finish_reason "insufficient_system_resource". */
  | { kind: "insufficientResource"; afterTokens?: number }
  /** Serve normally but with this request's own timing. */
  | { kind: "slow"; ttftMs?: number; tokensPerS?: number }
  /**
   * A hostile or broken upstream: an error whose message echoes the request's Authorization header,
   * with `status` (200 puts the error in a 200 body, or in the first event of a stream).
   */
  | { kind: "echoKey"; status: 200 | 400 | 500 };

export interface FaultRates {
  /** Probability per request of answering with each status instead of serving it. */
  statusRates: Record<`${FaultStatus}`, number>;
  cutMidStreamRate: number;
  stallBeforeFirstTokenRate: number;
  stallMidStreamRate: number;
  /** How long a stall lasts before the server closes the connection. */
  stallMs: number;
  /** Keep sending keep-alives during a stall, as DeepSeek does. */
  stallKeepAlive: boolean;
  blankBodyRate: number;
  insufficientResourceRate: number;
}

export interface SimOptions {
  era: Era;
  /** Max in-flight requests per API key (account); 0 = unlimited. */
  concurrency: number;
  overload: OverloadMode;
  /** Interval of keep-alives (`: keep-alive` for streams, `\n` otherwise) while queued or stalled; 0 = none. */
  queueKeepAliveMs: number;
  /** A queued request that is not admitted within this time gets a 200 with no data, then close. */
  queueTimeoutMs: number;
  /** Time from admission to the first token. */
  ttftMs: number;
  /** Pacing of generated tokens; 0 = as fast as possible. */
  tokensPerS: number;
  /** Natural answers are between these many tokens (seeded), then capped by max_tokens. */
  minAnswerTokens: number;
  maxAnswerTokens: number;
  /** Send `Retry-After: retryAfterSeconds` on 429 and 503 (DeepSeek sends none). */
  retryAfter: boolean;
  retryAfterSeconds: number;
  /** Accepted keys; empty = any `Bearer sk-...`. */
  apiKeys: string[];
  /** Starting balance of every key, in `currency`; at or below 0 chat calls get 402. */
  balance: number;
  currency: "USD" | "CNY";
  /** Deduct the list price of each answered request from the key's balance. */
  chargeUsage: boolean;
  /** Bill this many times the list price: above 1 seeds usage the router cannot see (reconciliation tests). */
  billingMultiplier: number;
  faults: FaultRates;
  /** Seed of the fault RNG. */
  seed: number;
  /** FIFO of faults for the next requests (consumed one per generation request). */
  faultScript: FaultSpec[];
  /** Keep-alive interval during the time-to-first-token wait; 0 = silent. */
  keepAliveBeforeFirstTokenMs: number;
  /** OpenAI-style usage: only with include_usage, as a separate chunk with empty choices. */
  separateUsageChunk: boolean;
  /** A stored prefix becomes hittable only this long after the request that stored it. */
  prefixCacheDelayMs: number;
}

/** A deep partial of {@link SimOptions}: nested fault settings may be given one at a time. */
export type SimOptionsPatch = Partial<Omit<SimOptions, "faults">> & {
  faults?: Partial<Omit<FaultRates, "statusRates">> & { statusRates?: Partial<FaultRates["statusRates"]> };
};

export const defaultSimOptions: SimOptions = {
  era: "v41",
  concurrency: 0,
  overload: "reject429",
  queueKeepAliveMs: 5_000,
  queueTimeoutMs: 600_000,
  ttftMs: 200,
  tokensPerS: 80,
  minAnswerTokens: 20,
  maxAnswerTokens: 120,
  retryAfter: false,
  retryAfterSeconds: 1,
  apiKeys: [],
  balance: 100,
  currency: "USD",
  chargeUsage: true,
  billingMultiplier: 1,
  faults: {
    statusRates: { "429": 0, "500": 0, "502": 0, "503": 0, "504": 0 },
    cutMidStreamRate: 0,
    stallBeforeFirstTokenRate: 0,
    stallMidStreamRate: 0,
    stallMs: 600_000,
    stallKeepAlive: true,
    blankBodyRate: 0,
    insufficientResourceRate: 0,
  },
  seed: 1,
  faultScript: [],
  keepAliveBeforeFirstTokenMs: 0,
  separateUsageChunk: false,
  prefixCacheDelayMs: 0,
};

const ms = z.number().int().min(0);
const rate = z.number().min(0).max(1);
const count = z.number().int().min(1).optional();

const faultSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({ kind: z.literal("status"), status: z.literal([429, 500, 502, 503, 504]) }),
  z.strictObject({ kind: z.literal("cutMidStream"), afterChunks: count }),
  z.strictObject({
    kind: z.literal("stallBeforeFirstToken"),
    ms: ms.optional(),
    keepAlive: z.boolean().optional(),
  }),
  z.strictObject({
    kind: z.literal("stallMidStream"),
    afterChunks: count,
    ms: ms.optional(),
    keepAlive: z.boolean().optional(),
  }),
  z.strictObject({ kind: z.literal("blankBody"), lines: count, afterMs: ms.optional() }),
  z.strictObject({ kind: z.literal("malformedEvent"), afterChunks: count }),
  z.strictObject({
    kind: z.literal("insufficientResource"),
    afterTokens: z.number().int().min(0).optional(),
  }),
  z.strictObject({
    kind: z.literal("slow"),
    ttftMs: ms.optional(),
    tokensPerS: z.number().min(0).optional(),
  }),
  z.strictObject({ kind: z.literal("echoKey"), status: z.literal([200, 400, 500]) }),
]);

const faultRatesSchema = z
  .strictObject({
    statusRates: z.strictObject({ "429": rate, "500": rate, "502": rate, "503": rate, "504": rate }),
    cutMidStreamRate: rate,
    stallBeforeFirstTokenRate: rate,
    stallMidStreamRate: rate,
    stallMs: ms,
    stallKeepAlive: z.boolean(),
    blankBodyRate: rate,
    insufficientResourceRate: rate,
  })
  .refine((f) => totalFaultRate(f) <= 1 + 1e-9, { message: "fault rates add up to more than 1" });

const simOptionsSchema = z
  .strictObject({
    era: z.enum(["v41", "v4", "legacy"]),
    concurrency: z.number().int().min(0),
    overload: z.enum(["reject429", "queue", "reject503"]),
    queueKeepAliveMs: ms,
    queueTimeoutMs: ms,
    ttftMs: ms,
    tokensPerS: z.number().min(0),
    minAnswerTokens: z.number().int().min(1),
    maxAnswerTokens: z.number().int().min(1),
    retryAfter: z.boolean(),
    retryAfterSeconds: z.number().int().min(0),
    apiKeys: z.array(z.string().min(1)),
    balance: z.number(),
    currency: z.enum(["USD", "CNY"]),
    chargeUsage: z.boolean(),
    billingMultiplier: z.number().min(0),
    faults: faultRatesSchema,
    seed: z.number().int(),
    faultScript: z.array(faultSpecSchema),
    keepAliveBeforeFirstTokenMs: ms,
    separateUsageChunk: z.boolean(),
    prefixCacheDelayMs: ms,
  })
  .refine((o) => o.minAnswerTokens <= o.maxAnswerTokens, {
    message: "minAnswerTokens must not exceed maxAnswerTokens",
    path: ["minAnswerTokens"],
  }) satisfies z.ZodType<SimOptions>;

/** Sum of all per-request fault probabilities (status faults included). */
function totalFaultRate(f: FaultRates): number {
  const statuses = Object.values(f.statusRates).reduce((a, b) => a + b, 0);
  return (
    statuses +
    f.cutMidStreamRate +
    f.stallBeforeFirstTokenRate +
    f.stallMidStreamRate +
    f.blankBodyRate +
    f.insufficientResourceRate
  );
}

/** Thrown by {@link parseSimOptions}; the message names the offending field. */
export class SimOptionsError extends Error {
  override name = "SimOptionsError";
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch === undefined ? base : patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (key === "__proto__" || key === "constructor" || key === "prototype") continue;
    out[key] = deepMerge(base[key], value);
  }
  return out;
}

/** Validates `patch` (a deep partial; arrays replace) merged over `base`. */
export function mergeSimOptions(base: SimOptions, patch: unknown): SimOptions {
  if (patch !== undefined && patch !== null && !isPlainObject(patch)) {
    throw new SimOptionsError("Invalid simulator options: expected an object");
  }
  const result = simOptionsSchema.safeParse(deepMerge(base, patch ?? {}));
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new SimOptionsError(`Invalid simulator option ${issues.join("; ")}`);
}

/** Validates a deep partial of {@link SimOptions} and merges it over {@link defaultSimOptions}. */
export function parseSimOptions(partial: unknown): SimOptions {
  return mergeSimOptions(defaultSimOptions, partial);
}
