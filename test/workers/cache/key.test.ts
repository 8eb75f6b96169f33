import { describe, expect, it } from "vitest";
import {
  cacheId,
  canonicalJson,
  formatCacheId,
  type KeyMaterial,
  parseCacheId,
  scopeFor,
} from "../../../src/cache/key";

function material(patch: Partial<KeyMaterial> = {}, body: Record<string, unknown> = {}): KeyMaterial {
  return {
    scope: "tenant:acme",
    endpoint: "chat",
    beta: false,
    resolvedModel: "deepseek-v4-flash",
    upstreamModel: "deepseek-v4-flash",
    disableThinking: false,
    ...patch,
    body: {
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "hi" }],
      temperature: 0,
      ...body,
    },
  };
}

describe("canonical JSON", () => {
  it("sorts keys at every depth, drops null fields, keeps array order and nulls in arrays", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, null, 1], c: "x" }, e: null, f: undefined })).toBe(
      '{"a":{"c":"x","d":[3,null,1]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson(-0)).toBe("0");
    expect(canonicalJson("é\n")).toBe('"é\\n"');
  });
});

describe("cache key", () => {
  it("is a SHA-256 that ignores framing and end-user identity", async () => {
    const base = await cacheId(material());
    expect(base.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const framing of [
      { stream: true },
      { stream: true, stream_options: { include_usage: true } },
      { user: "u-1" },
      { user_id: "end-user-7" },
      { temperature: 0, top_p: null },
    ]) {
      expect((await cacheId(material({}, framing))).hash).toBe(base.hash);
    }
    const reordered = await cacheId({
      ...material(),
      body: { temperature: 0, messages: [{ content: "hi", role: "user" }], model: "deepseek-v4-flash" },
    });
    expect(reordered.hash).toBe(base.hash);
  });

  it("changes with everything that changes the answer", async () => {
    const base = (await cacheId(material())).hash;
    const variants: KeyMaterial[] = [
      material({ scope: "tenant:globex" }),
      material({ scope: "shared" }),
      material({ endpoint: "fim" }),
      material({ beta: true }),
      material({ resolvedModel: "deepseek-v4-pro" }),
      material({ upstreamModel: "accounts/fireworks/deepseek-v4-flash" }),
      material({ disableThinking: true }),
      material({}, { messages: [{ role: "user", content: "hi!" }] }),
      material({}, { model: "auto" }),
      material({}, { temperature: 0.7 }),
      material({}, { top_p: 0.5 }),
      material({}, { max_tokens: 10 }),
      material({}, { stop: ["\n"] }),
      material({}, { thinking: { type: "enabled" } }),
      material({}, { reasoning_effort: "max" }),
      material({}, { response_format: { type: "json_object" } }),
      material({}, { tools: [{ type: "function", function: { name: "f" } }] }),
      material({}, { tool_choice: "required" }),
      material({}, { logprobs: true }),
      material({}, { seed: 7 }),
    ];
    const hashes = await Promise.all(variants.map(async (v) => (await cacheId(v)).hash));
    expect(new Set([base, ...hashes]).size).toBe(variants.length + 1);
  });

  it("names entries by scope and hash, and parses only well-formed names", async () => {
    const id = await cacheId(material());
    expect(parseCacheId(formatCacheId(id))).toEqual(id);
    expect(scopeFor("acme")).toBe("tenant:acme");
    expect(scopeFor("acme", "shared")).toBe("shared");
    expect(parseCacheId(`shared:${id.hash}`)).toEqual({ scope: "shared", hash: id.hash });
    expect(parseCacheId(`tenant:acme:${id.hash.slice(1)}`)).toBeUndefined();
    expect(parseCacheId(`tenant:a/b:${id.hash}`)).toBeUndefined();
    expect(parseCacheId(`elsewhere:${id.hash}`)).toBeUndefined();
  });
});
