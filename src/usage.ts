/** Token usage as DeepSeek reports it, normalised; third-party hosts report cache hits differently. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cacheHitTokens: number;
  cacheMissTokens: number;
  reasoningTokens: number;
}

type WireUsage = {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_cache_hit_tokens?: unknown;
  prompt_cache_miss_tokens?: unknown;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: unknown } | null;
};

function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export function usageFromWire(raw: unknown): Usage | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const wire = raw as WireUsage;
  const promptTokens = count(wire.prompt_tokens);
  const completionTokens = count(wire.completion_tokens);
  if (promptTokens === undefined || completionTokens === undefined) return undefined;
  const cacheHitTokens =
    count(wire.prompt_cache_hit_tokens) ?? count(wire.prompt_tokens_details?.cached_tokens) ?? 0;
  const cacheMissTokens = count(wire.prompt_cache_miss_tokens) ?? Math.max(0, promptTokens - cacheHitTokens);
  const reasoningTokens = count(wire.completion_tokens_details?.reasoning_tokens) ?? 0;
  return { promptTokens, completionTokens, cacheHitTokens, cacheMissTokens, reasoningTokens };
}

export const NO_USAGE: Usage = {
  promptTokens: 0,
  completionTokens: 0,
  cacheHitTokens: 0,
  cacheMissTokens: 0,
  reasoningTokens: 0,
};

/** Usage of two calls together: a request's own answer and the attempts it spent on the way. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cacheHitTokens: a.cacheHitTokens + b.cacheHitTokens,
    cacheMissTokens: a.cacheMissTokens + b.cacheMissTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}
