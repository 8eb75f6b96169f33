import { deriveSeed, normalDraw, type Rng, seededRng, weightedPick } from "./rng";

export const REQUEST_TYPES = ["chat", "reasoning", "code", "vision"] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];
export const PRIORITY_LEVELS = ["high", "normal", "low"] as const;
export type PriorityLevel = (typeof PRIORITY_LEVELS)[number];
export const LATENCY_LEVELS = ["interactive", "background"] as const;
export type LatencyLevel = (typeof LATENCY_LEVELS)[number];

/** Prompt length in (approximate) tokens. */
export type LengthDistribution =
  | { kind: "fixed"; tokens: number }
  | { kind: "uniform"; min: number; max: number }
  /** Long-tailed, like real prompts: exp(N(ln median, sigma)), capped at max. */
  | { kind: "lognormal"; median: number; sigma: number; max: number };

export interface TenantShare {
  name: string;
  share: number;
  /** Key this tenant sends; the run's key when absent. */
  key?: string;
}

export interface MixConfig {
  /** Relative shares of each request type. */
  types: Partial<Record<RequestType, number>>;
  /** Share of requests sent with `stream: true`. */
  streamRatio: number;
  promptTokens: LengthDistribution;
  maxTokens: number;
  /**
   * Share of requests that repeat a prompt from the pool, byte for byte, to exercise caches. Repeats
   * are deterministic (`temperature: 0`), which the router caches by default, so they can hit.
   */
  repeatRatio: number;
  /** Number of distinct repeated prompts. */
  repeatPool: number;
  /** Shares of `x-router-priority`; empty sends no header. */
  priorities: Partial<Record<PriorityLevel, number>>;
  /** Shares of `x-router-latency`; empty sends no header. */
  latency: Partial<Record<LatencyLevel, number>>;
  tenants: TenantShare[];
  /** Model name per request type. */
  models: Record<RequestType, string>;
  path: string;
}

const defaultMix: MixConfig = {
  types: { chat: 0.6, reasoning: 0.15, code: 0.2, vision: 0.05 },
  streamRatio: 0.8,
  promptTokens: { kind: "lognormal", median: 200, sigma: 0.8, max: 4000 },
  maxTokens: 256,
  repeatRatio: 0.1,
  repeatPool: 20,
  priorities: {},
  latency: {},
  tenants: [{ name: "default", share: 1 }],
  models: {
    chat: "deepseek-flash",
    reasoning: "deepseek-flash",
    code: "deepseek-flash",
    vision: "deepseek-flash",
  },
  path: "/v1/chat/completions",
};

/** A fully built request: what the runner sends, and the labels its metrics are grouped by. */
export interface RequestSpec {
  seq: number;
  type: RequestType;
  stream: boolean;
  repeat: boolean;
  priority?: PriorityLevel;
  latency?: LatencyLevel;
  tenant: string;
  /** Overrides the run's key. */
  key?: string;
  path: string;
  /** POST by default; a GET sends no body. */
  method?: "GET" | "POST";
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** The metrics class of a request: its type and whether it streamed. */
export function requestClass(spec: Pick<RequestSpec, "type" | "stream">): string {
  return `${spec.type}/${spec.stream ? "stream" : "json"}`;
}

/** Merges a partial mix over the defaults (records are replaced whole, not merged key by key). */
export function resolveMix(partial: Partial<MixConfig> = {}): MixConfig {
  return { ...defaultMix, ...partial, models: { ...defaultMix.models, ...partial.models } };
}

/**
 * Builds request `seq` of a run. Pure: the same (mix, seed, seq) always gives the same request.
 * A repeated request takes everything that reaches the cache key (type, stream, prompt, body) from
 * its pool entry and asks for a deterministic answer (temperature 0), as a cacheable request does;
 * only the headers (priority, tenant) are drawn per request.
 */
export function buildRequest(mix: MixConfig, seed: number, seq: number): RequestSpec {
  const rng = seededRng(deriveSeed(seed, `req:${seq}`));
  const repeat = mix.repeatPool > 0 && rng() < mix.repeatRatio;
  const shapeRng = repeat ? seededRng(deriveSeed(seed, `pool:${Math.floor(rng() * mix.repeatPool)}`)) : rng;
  const type = weightedPick(mix.types, shapeRng);
  const stream = shapeRng() < mix.streamRatio;
  const tokens = drawLength(mix.promptTokens, shapeRng);
  const nonce = repeat ? "" : ` [run ${seed.toString(36)} request ${seq}]`;
  const body = chatBody(mix, type, stream, promptText(type, tokens, shapeRng) + nonce);
  if (repeat) body.temperature = 0;

  const priority = pickOptional(mix.priorities, rng);
  const latency = pickOptional(mix.latency, rng);
  const tenant = pickTenant(mix.tenants, rng);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (priority) headers["x-router-priority"] = priority;
  if (latency) headers["x-router-latency"] = latency;
  return {
    seq,
    type,
    stream,
    repeat,
    priority,
    latency,
    tenant: tenant.name,
    key: tenant.key,
    path: mix.path,
    headers,
    body,
  };
}

function drawLength(dist: LengthDistribution, rng: Rng): number {
  switch (dist.kind) {
    case "fixed":
      return Math.max(1, Math.round(dist.tokens));
    case "uniform":
      return Math.max(1, Math.round(dist.min + rng() * (dist.max - dist.min)));
    case "lognormal": {
      const v = Math.exp(Math.log(dist.median) + dist.sigma * normalDraw(rng));
      return Math.max(1, Math.min(dist.max, Math.round(v)));
    }
  }
}

/** A 1×1 PNG: vision requests need an image part, not a large one. */
export const TINY_PNG_DATA_URL =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

function chatBody(
  mix: MixConfig,
  type: RequestType,
  stream: boolean,
  prompt: string,
): Record<string, unknown> {
  const content =
    type === "vision"
      ? [
          { type: "text", text: prompt },
          { type: "image_url", image_url: { url: TINY_PNG_DATA_URL } },
        ]
      : prompt;
  return {
    model: mix.models[type],
    messages: [{ role: "user", content }],
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    max_tokens: mix.maxTokens,
    thinking: { type: type === "reasoning" ? "enabled" : "disabled" },
  };
}

const WORDS =
  "the a service request latency cache stream token model answer question system user data value result error time first next each router edge queue load test build deploy check measure".split(
    " ",
  );

const LEADS: Record<RequestType, string> = {
  chat: "Answer briefly:",
  reasoning: "Think step by step and prove your answer:",
  code: "Fix the bug in this function and explain the change:\n```ts\nfunction sum(xs: number[]) { let s = 0; for (let i = 0; i <= xs.length; i++) s += xs[i]; return s; }\n```\n",
  vision: "Describe the image, then:",
};

/** About `tokens` tokens of filler after a type-specific lead (one word ≈ 1.3 tokens). */
function promptText(type: RequestType, tokens: number, rng: Rng): string {
  const words = Math.max(1, Math.round(tokens / 1.3));
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rng() * WORDS.length)]!);
  return `${LEADS[type]} ${out.join(" ")}`;
}

function pickOptional<K extends string>(weights: Partial<Record<K, number>>, rng: Rng): K | undefined {
  const live = Object.values<number | undefined>(weights).some((w) => (w ?? 0) > 0);
  return live ? weightedPick(weights, rng) : undefined;
}

function pickTenant(tenants: readonly TenantShare[], rng: Rng): TenantShare {
  const live = tenants.filter((t) => t.share > 0);
  if (live.length === 0) return { name: "default", share: 1 };
  const total = live.reduce((s, t) => s + t.share, 0);
  let r = rng() * total;
  for (const t of live) {
    r -= t.share;
    if (r < 0) return t;
  }
  return live[live.length - 1]!;
}

/** A message when the mix cannot produce requests, else undefined. */
export function validateMix(mix: MixConfig): string | undefined {
  const shares = Object.values<number | undefined>(mix.types);
  if (!shares.some((w) => (w ?? 0) > 0)) return "mix.types needs at least one positive share";
  for (const k of Object.keys(mix.types)) {
    if (!(REQUEST_TYPES as readonly string[]).includes(k)) return `mix.types: unknown type "${k}"`;
  }
  for (const [name, v] of [
    ["streamRatio", mix.streamRatio],
    ["repeatRatio", mix.repeatRatio],
  ] as const) {
    if (!(v >= 0 && v <= 1)) return `mix.${name} must be between 0 and 1`;
  }
  if (!Number.isInteger(mix.repeatPool) || mix.repeatPool < 0) return "mix.repeatPool must be an integer ≥ 0";
  if (!Number.isInteger(mix.maxTokens) || mix.maxTokens < 1) return "mix.maxTokens must be an integer ≥ 1";
  return undefined;
}
