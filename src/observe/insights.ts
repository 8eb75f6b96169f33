import type { FamilyRow, PromptStats, UsageRow } from "../ledger/request-records";
import { NO_USAGE, type Usage } from "../usage";

/** Answers of fewer output tokens than this (reasoning excluded) did not need a reasoning model. */
export const SHORT_ANSWER_TOKENS = 50;
/** Advice needs at least this many requests behind it. */
const MIN_REQUESTS = 5;
/** DeepSeek's context cache works in 64-token units: a shorter prefix is never cached anyway. */
const MIN_PREFIX_TOKENS = 64;

export interface Advice {
  kind: "unstable_prefix" | "short_reasoning" | "repeats";
  message: string;
  /** What following it would have saved over the range, at the prices in force. */
  savingsUsd: number;
  family?: string;
  model?: string;
}

export interface PromptInsights {
  families: Array<Omit<FamilyRow, "prefixTokens"> & { prefixTokens: number; cacheHitRatio: number }>;
  repeats: PromptStats["repeats"] & { ratio: number };
  reasoning: Array<PromptStats["reasoning"][number] & { shortRatio: number }>;
  advice: Advice[];
}

/** What `usage` of `model` costs. */
export type Price = (model: string, usage: Usage) => number;

/**
 * Pure: prompt families with their DeepSeek cache hit ratio, and the advice the recorded usage supports,
 * each with the money it would have saved, priced by `price`. The three rules and their thresholds are
 * in docs/ARCHITECTURE.md (Request explorer).
 */
export function promptInsights(stats: PromptStats, price: Price): PromptInsights {
  const families = stats.families.map((row) => ({
    ...row,
    prefixTokens: Math.round(row.prefixTokens),
    costUsd: round(row.costUsd),
    cacheHitRatio: ratio(row.cacheHitTokens, row.cacheHitTokens + row.cacheMissTokens),
  }));
  const reasoning = stats.reasoning.map((row) => ({ ...row, shortRatio: ratio(row.short, row.requests) }));
  const repeats = {
    ...stats.repeats,
    repeatedCostUsd: round(stats.repeats.repeatedCostUsd),
    ratio: ratio(stats.repeats.repeated, stats.repeats.requests),
  };
  const advice = [
    ...families.flatMap((family) => unstablePrefix(family, price)),
    ...reasoning.flatMap((row) =>
      shortReasoning(
        row,
        stats.shortReasoning.find((s) => s.model === row.model),
        price,
      ),
    ),
    ...repeatAdvice(repeats),
  ].sort((a, b) => b.savingsUsd - a.savingsUsd);
  return { families, repeats, reasoning, advice };
}

/** A family whose prefix differs request to request, and so is seldom served from DeepSeek's cache. */
function unstablePrefix(family: PromptInsights["families"][number], price: Price): Advice[] {
  const changing = ratio(family.prefixes, family.requests);
  if (family.requests < MIN_REQUESTS || family.prefixTokens < MIN_PREFIX_TOKENS) return [];
  if (changing < 0.5 || family.cacheHitRatio >= 0.2) return [];
  // With a stable prefix, every request after the first could read the prefix from the cache.
  const tokens = Math.min(family.cacheMissTokens, (family.requests - 1) * family.prefixTokens);
  const savingsUsd = round(
    price(family.model, usage({ cacheMissTokens: tokens })) -
      price(family.model, usage({ cacheHitTokens: tokens })),
  );
  if (savingsUsd <= 0) return [];
  return [
    {
      kind: "unstable_prefix",
      family: family.family,
      model: family.model,
      message: `Prompt family ${family.family} (${family.requests} requests to ${family.model}): its prefix of ~${family.prefixTokens} tokens (system prompt and tools) changes on ${pct(changing)} of requests, so DeepSeek's cache hit only ${pct(family.cacheHitRatio)}. Move the variable part (dates, ids, counters) after the stable part.`,
      savingsUsd,
    },
  ];
}

/** Reasoning requests that answered in a few tokens: thinking they did not need. */
function shortReasoning(
  row: PromptInsights["reasoning"][number],
  short: (UsageRow & { requests: number }) | undefined,
  price: Price,
): Advice[] {
  if (!short || row.requests < MIN_REQUESTS || row.shortRatio < 0.4) return [];
  const withoutThinking = usage({
    cacheHitTokens: short.cacheHitTokens,
    cacheMissTokens: short.cacheMissTokens,
    completionTokens: short.completionTokens - short.reasoningTokens,
  });
  const savingsUsd = round(short.costUsd - price(row.model, withoutThinking));
  if (savingsUsd <= 0) return [];
  return [
    {
      kind: "short_reasoning",
      model: row.model,
      message: `${pct(row.shortRatio)} of reasoning requests to ${row.model} (${row.short} of ${row.requests}) answered in under ${SHORT_ANSWER_TOKENS} tokens: route them to chat (thinking off, x-router-type: chat) and stop paying for ${short.reasoningTokens} reasoning tokens.`,
      savingsUsd,
    },
  ];
}

/** Prompts sent again byte for byte: the router's prompt cache would have answered them for nothing. */
function repeatAdvice(repeats: PromptInsights["repeats"]): Advice[] {
  if (repeats.repeated < MIN_REQUESTS || repeats.ratio < 0.1 || repeats.repeatedCostUsd <= 0) return [];
  return [
    {
      kind: "repeats",
      message: `Repeat ratio ${pct(repeats.ratio)}: ${repeats.repeated} of ${repeats.requests} requests repeated an earlier one exactly and were sent upstream again. Enable the prompt cache for them ("cache": "on" for the tenant, or for the route in the policy).`,
      savingsUsd: repeats.repeatedCostUsd,
    },
  ];
}

function usage(part: Partial<Usage>): Usage {
  const base = { ...NO_USAGE, ...part };
  return { ...base, promptTokens: base.cacheHitTokens + base.cacheMissTokens };
}

function ratio(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 1000 : 0;
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function round(usd: number): number {
  return Math.round(usd * 1e8) / 1e8;
}
