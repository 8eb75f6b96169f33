import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { usageCostUsd } from "../../../src/classify/catalog";
import { recordId } from "../../../src/ledger/request-records";
import type { RequestRecord } from "../../../src/trace";
import type { Usage } from "../../../src/usage";
import { callWithUpstream } from "../helpers";
import { policyOf } from "../policy-fixtures";
import { limitedTenant } from "../tenancy/support";

const policy = policyOf();
const price = (model: string, usage: Usage) => usageCostUsd(policy, model, usage, Date.now());

function usage(hit: number, miss: number, completion: number, reasoning = 0): Usage {
  return {
    promptTokens: hit + miss,
    cacheHitTokens: hit,
    cacheMissTokens: miss,
    completionTokens: completion,
    reasoningTokens: reasoning,
  };
}

let seq = 0;
function seeded(
  tenant: string,
  o: {
    model: string;
    type: string;
    usage: Usage;
    family: string;
    prefixHash: string;
    promptHash: string;
    prefixTokens: number;
  },
): RequestRecord {
  const at = Date.now() - 60_000 + seq++;
  return {
    id: recordId(at, crypto.randomUUID().replaceAll("-", "")),
    requestId: `seed-${seq}`,
    at,
    tenant,
    surface: "openai",
    endpoint: "chat",
    stream: false,
    askedModel: o.model,
    model: o.model,
    classification: { type: o.type, latency: "interactive", priority: "normal", why: "seeded" },
    status: 200,
    outcome: "complete",
    cache: "BYPASS",
    usage: o.usage,
    estimated: false,
    costUsd: price(o.model, o.usage),
    savedUsd: 0,
    latencyMs: 100,
    retries: 0,
    fallbacks: 0,
    prompt: {
      family: o.family,
      prefixHash: o.prefixHash,
      promptHash: o.promptHash,
      prefixTokens: o.prefixTokens,
    },
    timeline: [],
    trace: { traceId: "0".repeat(31) + "1", spanId: "0".repeat(15) + "1", sampled: true },
  };
}

describe("prompt-cost insights", () => {
  it("find the unstable prefix, the short reasoning answers and the repeats of a seeded workload, with their savings", async () => {
    const { id, key, tenants } = await limitedTenant({});
    const records: RequestRecord[] = [];
    // 10 requests whose 1,000-token prefix changes every time: no cache hits.
    for (let i = 0; i < 10; i++) {
      records.push(
        seeded(id, {
          model: "deepseek-v4-flash",
          type: "chat",
          usage: usage(0, 1200, 100),
          family: "f-unstable",
          prefixHash: `p${i}`,
          promptHash: `u${i}`,
          prefixTokens: 1000,
        }),
      );
    }
    // 10 reasoning requests on a stable, cached prefix: 6 answer in 20 visible tokens; each prompt is sent twice.
    for (let i = 0; i < 10; i++) {
      const short = i < 6;
      records.push(
        seeded(id, {
          model: "deepseek-v4-pro",
          type: "reasoning",
          usage: short ? usage(900, 100, 120, 100) : usage(900, 100, 500, 200),
          family: "f-stable",
          prefixHash: "p-stable",
          promptHash: `r${Math.floor(i / 2)}`,
          prefixTokens: 900,
        }),
      );
    }
    await env.TENANT_LEDGER.getByName(id).recordRequests(records);

    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/v1/requests/insights",
      { key },
      { ROUTER_TENANTS: tenants },
    );
    expect(response.status).toBe(200);
    const report = (await response.json()) as {
      families: Array<{ family: string; requests: number; prefixes: number; cacheHitRatio: number }>;
      repeats: { requests: number; repeated: number; ratio: number; repeatedCostUsd: number };
      advice: Array<{ kind: string; savingsUsd: number; model?: string; family?: string }>;
      savingsUsd: number;
    };
    expect(report.families.map((f) => [f.family, f.requests, f.prefixes, f.cacheHitRatio]).sort()).toEqual([
      ["f-stable", 10, 1, 0.9],
      ["f-unstable", 10, 10, 0],
    ]);
    expect(report.repeats).toMatchObject({ requests: 20, repeated: 5, ratio: 0.25 });

    const byKind = Object.fromEntries(report.advice.map((a) => [a.kind, a]));
    expect(Object.keys(byKind).sort()).toEqual(["repeats", "short_reasoning", "unstable_prefix"]);
    const unstable =
      price("deepseek-v4-flash", usage(0, 9000, 0)) - price("deepseek-v4-flash", usage(9000, 0, 0));
    expect(byKind.unstable_prefix).toMatchObject({ family: "f-unstable", model: "deepseek-v4-flash" });
    expect(byKind.unstable_prefix?.savingsUsd).toBeCloseTo(unstable, 8);
    const shortCost = 6 * price("deepseek-v4-pro", usage(900, 100, 120, 100));
    const thinkingOff = price("deepseek-v4-pro", usage(6 * 900, 6 * 100, 6 * 20));
    expect(byKind.short_reasoning?.savingsUsd).toBeCloseTo(shortCost - thinkingOff, 8);
    const pairs = records.slice(10).reduce((sum, r) => sum + r.costUsd, 0) / 2;
    expect(byKind.repeats?.savingsUsd).toBeCloseTo(pairs, 8);
    expect(report.savingsUsd).toBeCloseTo(unstable + shortCost - thinkingOff + pairs, 7);
    expect(report.advice[0]?.savingsUsd).toBe(Math.max(...report.advice.map((a) => a.savingsUsd)));
  });

  it("give no advice on too little evidence", async () => {
    const { id, key, tenants } = await limitedTenant({});
    const few = [0, 1, 2].map((i) =>
      seeded(id, {
        model: "deepseek-v4-flash",
        type: "chat",
        usage: usage(0, 1200, 100),
        family: "f",
        prefixHash: `p${i}`,
        promptHash: "same",
        prefixTokens: 1000,
      }),
    );
    await env.TENANT_LEDGER.getByName(id).recordRequests(few);
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/v1/requests/insights",
      { key },
      { ROUTER_TENANTS: tenants },
    );
    expect(((await response.json()) as { advice: unknown[] }).advice).toEqual([]);
  });
});
