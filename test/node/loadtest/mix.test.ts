import { describe, expect, it } from "vitest";
import {
  buildRequest,
  requestClass,
  resolveMix,
  TINY_PNG_DATA_URL,
  validateMix,
} from "../../../loadtest/mix";

describe("request mix", () => {
  const mix = resolveMix({
    types: { chat: 0.5, reasoning: 0.2, code: 0.2, vision: 0.1 },
    streamRatio: 0.7,
    repeatRatio: 0.25,
    repeatPool: 5,
    priorities: { high: 1, low: 3 },
    latency: { interactive: 1 },
    tenants: [
      { name: "a", share: 3 },
      { name: "b", share: 1, key: "sk-b" },
    ],
    promptTokens: { kind: "uniform", min: 50, max: 150 },
  });
  const reqs = Array.from({ length: 4000 }, (_, i) => buildRequest(mix, 9, i));
  const share = (pred: (r: (typeof reqs)[number]) => boolean) => reqs.filter(pred).length / reqs.length;

  it("respects type, stream, repeat, priority and tenant shares", () => {
    expect(share((r) => r.type === "chat")).toBeCloseTo(0.5, 1);
    expect(share((r) => r.type === "vision")).toBeCloseTo(0.1, 1);
    expect(share((r) => r.stream)).toBeCloseTo(0.7, 1);
    expect(share((r) => r.repeat)).toBeCloseTo(0.25, 1);
    expect(share((r) => r.priority === "high")).toBeCloseTo(0.25, 1);
    expect(share((r) => r.tenant === "b")).toBeCloseTo(0.25, 1);
    expect(reqs.filter((r) => r.tenant === "b").every((r) => r.key === "sk-b")).toBe(true);
    expect(reqs.every((r) => r.headers["x-router-latency"] === "interactive")).toBe(true);
  });

  it("is deterministic, keeps unique prompts unique and repeats from a bounded pool", () => {
    expect(buildRequest(mix, 9, 17)).toEqual(reqs[17]);
    const bodies = (pred: (r: (typeof reqs)[number]) => boolean) =>
      new Set(reqs.filter(pred).map((r) => JSON.stringify(r.body)));
    const unique = reqs.filter((r) => !r.repeat);
    expect(bodies((r) => !r.repeat).size).toBe(unique.length);
    expect(bodies((r) => r.repeat).size).toBeLessThanOrEqual(5);
  });

  it("makes repeats deterministic (temperature 0), so the router caches them by default", () => {
    expect(reqs.filter((r) => r.repeat).every((r) => r.body.temperature === 0)).toBe(true);
    expect(reqs.filter((r) => !r.repeat).every((r) => r.body.temperature === undefined)).toBe(true);
  });

  it("builds valid chat bodies: stream options, thinking for reasoning, an image for vision", () => {
    const streamed = reqs.find((r) => r.stream)!;
    expect(streamed.body.stream_options).toEqual({ include_usage: true });
    expect(reqs.find((r) => !r.stream)!.body.stream_options).toBeUndefined();
    expect(reqs.find((r) => r.type === "reasoning")!.body.thinking).toEqual({ type: "enabled" });
    expect(reqs.find((r) => r.type === "chat")!.body.thinking).toEqual({ type: "disabled" });
    const vision = reqs.find((r) => r.type === "vision")!;
    const content = (vision.body.messages as Array<{ content: unknown }>)[0]!.content;
    expect(content).toContainEqual({ type: "image_url", image_url: { url: TINY_PNG_DATA_URL } });
    expect(TINY_PNG_DATA_URL.startsWith("data:image/png;base64,")).toBe(true);
    expect(requestClass(vision)).toBe(`vision/${vision.stream ? "stream" : "json"}`);
    expect(reqs.find((r) => r.priority)!.headers["x-router-priority"]).toMatch(/^(high|low)$/);
  });

  it("sends no priority header when the mix has no priorities", () => {
    const plain = buildRequest(resolveMix(), 1, 0);
    expect(plain.headers["x-router-priority"]).toBeUndefined();
    expect(plain.priority).toBeUndefined();
  });

  it("rejects impossible mixes", () => {
    expect(validateMix(resolveMix({ types: {} }))).toMatch(/positive share/);
    expect(validateMix(resolveMix({ streamRatio: 2 }))).toMatch(/streamRatio/);
    expect(validateMix(resolveMix())).toBeUndefined();
  });
});
