import { describe, expect, it } from "vitest";
import { type ClassifyHeaders, classify, type InferenceRequest } from "../../../src/classify/classify";
import type { ChatRequest } from "../../../src/schema/chat";
import { policyOf, TENANT } from "../policy-fixtures";

const policy = policyOf();
// A weekday at 02:00 UTC (peak) and a Saturday at 02:00 UTC (off-peak), both after 2026-09-10.
const PEAK = Date.parse("2026-11-24T02:00:00Z");
const WEEKEND = Date.parse("2026-11-28T02:00:00Z");

function chat(body: Partial<ChatRequest> & Record<string, unknown>): InferenceRequest {
  return {
    endpoint: "chat",
    body: {
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "Hello there" }],
      ...body,
    } as ChatRequest,
  };
}

const image = { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } };
const code = "def add(a, b):\n    return a + b\n\nclass Thing:\n    pass\nimport os\n";

describe("classify: model type", () => {
  it.each<[string, InferenceRequest, ClassifyHeaders, string]>([
    ["thinking disabled → chat", chat({ thinking: { type: "disabled" } }), {}, "chat"],
    ["V4 default thinking → reasoning", chat({}), {}, "reasoning"],
    ["thinking enabled → reasoning", chat({ thinking: { type: "enabled" } }), {}, "reasoning"],
    ["reasoning_effort → reasoning", chat({ reasoning_effort: "high" }), {}, "reasoning"],
    ["image part → vision", chat({ messages: [{ role: "user", content: [image] }] } as never), {}, "vision"],
    ["FIM → code", { endpoint: "fim", body: { model: "deepseek-v4-flash", prompt: "def f(" } }, {}, "code"],
    [
      "code prompt → code",
      chat({ thinking: { type: "disabled" }, messages: [{ role: "user", content: code }] }),
      {},
      "code",
    ],
    [
      "fenced code → code",
      chat({
        thinking: { type: "disabled" },
        messages: [{ role: "user", content: "Fix:\n```\nx = [1,2\nprint(x)\nfor i in x: pass\n```" }],
      }),
      {},
      "code",
    ],
    [
      "prose about code stays chat",
      chat({
        thinking: { type: "disabled" },
        messages: [{ role: "user", content: "What is a function in math?" }],
      }),
      {},
      "chat",
    ],
    ["header override wins", chat({ thinking: { type: "disabled" } }), { type: "reasoning" }, "reasoning"],
    ["auto plain → chat", chat({ model: "auto" }), {}, "chat"],
    [
      "auto with thinking → reasoning",
      chat({ model: "auto", thinking: { type: "enabled" } }),
      {},
      "reasoning",
    ],
    [
      "auto with image → vision",
      chat({ model: "auto", messages: [{ role: "user", content: [image] }] } as never),
      {},
      "vision",
    ],
  ])("%s", (_, request, headers, type) => {
    expect(classify(request, headers, TENANT, policy, PEAK).type).toBe(type);
  });
});

describe("classify: auto", () => {
  it("picks the cheapest model that fits and turns thinking off for chat", () => {
    const result = classify(chat({ model: "auto" }), {}, TENANT, policy, PEAK);
    expect(result).toMatchObject({ auto: true, model: "deepseek-flash", thinking: false });
    expect(result.why).toContain("cheapest fit deepseek-flash");
  });

  it("needs vision for images and finds the vision-capable model", () => {
    const result = classify(
      chat({ model: "auto", messages: [{ role: "user", content: [image] }] } as never),
      {},
      TENANT,
      policy,
      PEAK,
    );
    expect(result.model).toBe("deepseek-flash");
    expect(result.needs).toContain("vision");
  });
});

describe("classify: tokens, cost and classes", () => {
  it("uses max_tokens, or the type's default, as expected output", () => {
    expect(classify(chat({ max_tokens: 77 }), {}, TENANT, policy, PEAK).outputTokens).toBe(77);
    expect(classify(chat({ thinking: { type: "disabled" } }), {}, TENANT, policy, PEAK).outputTokens).toBe(
      600,
    );
    expect(classify(chat({}), {}, TENANT, policy, PEAK).outputTokens).toBe(3000);
  });

  it("estimates prompt tokens from text and counts images", () => {
    const text = "word ".repeat(1000);
    const plain = classify(chat({ messages: [{ role: "user", content: text }] }), {}, TENANT, policy, PEAK);
    // 1,000 short words with their spaces: one token each, plus the message framing.
    expect(plain.promptTokens).toBeGreaterThanOrEqual(1000);
    expect(plain.promptTokens).toBeLessThan(1020);
    const withImage = classify(
      chat({ messages: [{ role: "user", content: [image] }] } as never),
      {},
      TENANT,
      policy,
      PEAK,
    );
    expect(withImage.promptTokens).toBeGreaterThanOrEqual(576);
  });

  it("prices at peak on a weekday and at half on a weekend", () => {
    const request = chat({
      thinking: { type: "disabled" },
      max_tokens: 1000,
      messages: [{ role: "user", content: "x".repeat(10_000) }],
    });
    const peak = classify(request, {}, TENANT, policy, PEAK);
    const weekend = classify(request, {}, TENANT, policy, WEEKEND);
    expect(peak.peakPricing).toBe(true);
    expect(weekend.peakPricing).toBe(false);
    expect(weekend.estimatedCostUsd).toBeCloseTo(peak.estimatedCostUsd / 2, 10);
    // deepseek-v4-flash bills as V4.1 Flash at peak: $0.30/M miss, $1.20/M output.
    expect(peak.estimatedCostUsd).toBeCloseTo((peak.promptTokens * 0.3 + 1000 * 1.2) / 1e6, 10);
  });

  it("is interactive when streamed, background otherwise, and headers override", () => {
    expect(classify(chat({ stream: true }), {}, TENANT, policy, PEAK).latency).toBe("interactive");
    expect(classify(chat({}), {}, TENANT, policy, PEAK).latency).toBe("background");
    expect(classify(chat({}), { latency: "interactive" }, TENANT, policy, PEAK).latency).toBe("interactive");
    expect(classify(chat({ stream: true }), { latency: "background" }, TENANT, policy, PEAK).latency).toBe(
      "background",
    );
  });

  it("caps priority at what the tenant may use", () => {
    expect(classify(chat({}), { priority: "high" }, TENANT, policy, PEAK)).toMatchObject({
      priority: "high",
      priorityCapped: false,
    });
    const limited = { ...TENANT, maxPriority: "normal" as const };
    expect(classify(chat({}), { priority: "high" }, limited, policy, PEAK)).toMatchObject({
      priority: "normal",
      priorityCapped: true,
    });
    expect(classify(chat({}), { priority: "low" }, limited, policy, PEAK).priority).toBe("low");
    expect(classify(chat({}), {}, TENANT, policy, PEAK).priority).toBe("normal");
  });

  it.each([
    ["x-router-priority", { priority: "urgent" }],
    ["x-router-latency", { latency: "soon" }],
    ["x-router-type", { type: "audio" }],
  ])("400s a bad %s header", (param, headers) => {
    expect(() => classify(chat({}), headers, TENANT, policy, PEAK)).toThrowError(
      expect.objectContaining({ status: 400, param }),
    );
  });

  it("refuses unknown and retired models with DeepSeek's message", () => {
    expect(() => classify(chat({ model: "deepseek-chat" }), {}, TENANT, policy, PEAK)).toThrowError(
      "Model Not Exist",
    );
  });

  it("resolves aliases", () => {
    const aliased = policyOf({ ...policyOf(), aliases: { fast: "deepseek-flash" } } as never);
    expect(classify(chat({ model: "fast" }), {}, TENANT, aliased, PEAK).model).toBe("deepseek-flash");
  });
});
