import { describe, expect, it } from "vitest";
import { CACHE_UNIT, PrefixCache, prefixKeys } from "../../../sim/prefix-cache";
import { AUTH, chatBody, fastSim, post } from "./helpers";

type Usage = {
  prompt_tokens: number;
  prompt_cache_hit_tokens: number;
  prompt_cache_miss_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
};

const system = {
  role: "system",
  content: "You are a careful assistant that answers about caching. ".repeat(40),
};

async function usage(
  sim: ReturnType<typeof fastSim>,
  body: Record<string, unknown>,
  headers = AUTH,
): Promise<Usage> {
  const res = await post(sim, "/chat/completions", body, { headers });
  expect(res.status).toBe(200);
  return ((await res.json()) as { usage: Usage }).usage;
}

describe("prefix cache", () => {
  it("hits the longest previously seen prefix, rounded down to 64 tokens", async () => {
    const sim = fastSim();
    const first = await usage(
      sim,
      chatBody({ messages: [system, { role: "user", content: "First question?" }] }),
    );
    expect(first.prompt_cache_hit_tokens).toBe(0);
    expect(first.prompt_tokens).toBeGreaterThan(300);
    const again = await usage(
      sim,
      chatBody({ messages: [system, { role: "user", content: "First question?" }] }),
    );
    expect(again.prompt_cache_hit_tokens).toBe(Math.floor(first.prompt_tokens / CACHE_UNIT) * CACHE_UNIT);
    const other = await usage(
      sim,
      chatBody({ messages: [system, { role: "user", content: "A different one." }] }),
    );
    expect(other.prompt_cache_hit_tokens % CACHE_UNIT).toBe(0);
    expect(other.prompt_cache_hit_tokens).toBeGreaterThan(0);
    expect(other.prompt_cache_hit_tokens).toBeLessThan(other.prompt_tokens);
    expect(other.prompt_cache_miss_tokens).toBe(other.prompt_tokens - other.prompt_cache_hit_tokens);
    expect(other.prompt_tokens_details.cached_tokens).toBe(other.prompt_cache_hit_tokens);
    expect(sim.stats().cacheHitTokens).toBe(again.prompt_cache_hit_tokens + other.prompt_cache_hit_tokens);
  });

  it("does not cache prompts shorter than 64 tokens", async () => {
    const sim = fastSim();
    await usage(sim, chatBody());
    expect((await usage(sim, chatBody())).prompt_cache_hit_tokens).toBe(0);
  });

  it("is isolated per API key and user_id, and cleared by reset", async () => {
    const sim = fastSim();
    const body = chatBody({ messages: [system, { role: "user", content: "Q" }] });
    await usage(sim, body);
    const otherKey = { ...AUTH, authorization: "Bearer sk-someone-else-000000000000000000" };
    expect((await usage(sim, body, otherKey)).prompt_cache_hit_tokens).toBe(0);
    expect((await usage(sim, { ...body, user_id: "u-1" })).prompt_cache_hit_tokens).toBe(0);
    expect((await usage(sim, body)).prompt_cache_hit_tokens).toBeGreaterThan(0);
    sim.reset();
    expect((await usage(sim, body)).prompt_cache_hit_tokens).toBe(0);
  });

  it("honours prefixCacheDelayMs", () => {
    const cache = new PrefixCache();
    const keys = prefixKeys(Array.from({ length: 200 }, (_, i) => `t${i}`));
    expect(keys).toHaveLength(3);
    cache.remember("k", keys, 1_000);
    expect(cache.hitTokens("k", keys, 1_500, 1_000)).toBe(0);
    expect(cache.hitTokens("k", keys, 2_000, 1_000)).toBe(192);
    expect(cache.hitTokens("k", keys.slice(0, 2), 2_000, 0)).toBe(128);
  });
});
