import { describe, expect, it } from "vitest";
import { AUTH, chatBody, chunks, fastSim, post } from "./helpers";

type Completion = {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string; reasoning_content?: string; tool_calls?: unknown[] };
    logprobs: null;
    finish_reason: string;
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
    completion_tokens_details?: { reasoning_tokens: number };
    prompt_cache_hit_tokens: number;
    prompt_cache_miss_tokens: number;
  };
};

async function complete(body: Record<string, unknown>, sim = fastSim()): Promise<Completion> {
  const res = await post(sim, "/chat/completions", body);
  expect(res.status).toBe(200);
  return (await res.json()) as Completion;
}

function streamedText(text: string): { content: string; reasoning: string } {
  let content = "";
  let reasoning = "";
  for (const c of chunks(text)) {
    const d = c.choices[0]?.delta ?? {};
    if (typeof d.content === "string") content += d.content;
    if (typeof d.reasoning_content === "string") reasoning += d.reasoning_content;
  }
  return { content, reasoning };
}

describe("non-streaming chat completion", () => {
  it("has DeepSeek's shape, headers and usage arithmetic", async () => {
    const sim = fastSim();
    const res = await post(sim, "/chat/completions", chatBody({ thinking: { type: "disabled" } }));
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-ds-trace-id")).toMatch(/^[0-9a-f]{32}$/);
    const body = (await res.json()) as Completion;
    expect(Object.keys(body)).toEqual([
      "id",
      "object",
      "created",
      "model",
      "choices",
      "usage",
      "system_fingerprint",
    ]);
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.object).toBe("chat.completion");
    expect(Math.abs(body.created - Date.now() / 1000)).toBeLessThan(5);
    expect(body.model).toBe("deepseek-flash");
    expect(body.system_fingerprint).toMatch(/^[0-9a-f]{32}$/);
    const choice = body.choices[0];
    expect(choice?.message.role).toBe("assistant");
    expect(choice?.message.content.length).toBeGreaterThan(0);
    expect(choice?.message).not.toHaveProperty("reasoning_content");
    expect(choice?.finish_reason).toBe("stop");
    expect(choice?.logprobs).toBeNull();
    const u = body.usage;
    expect(u.prompt_tokens).toBe(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens);
    expect(u.prompt_tokens_details.cached_tokens).toBe(u.prompt_cache_hit_tokens);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    expect(u.completion_tokens).toBeGreaterThanOrEqual(20);
    expect(u.completion_tokens).toBeLessThanOrEqual(120);
    expect(u).not.toHaveProperty("completion_tokens_details");
  });

  it("is deterministic: same request, same answer (and stream gives the same text)", async () => {
    const a = await complete(chatBody());
    const b = await complete(chatBody());
    expect(b.choices[0]?.message).toEqual(a.choices[0]?.message);
    expect(b.usage.completion_tokens).toBe(a.usage.completion_tokens);
    const other = await complete(
      chatBody({ messages: [{ role: "user", content: "Something else entirely." }] }),
    );
    expect(other.choices[0]?.message.content).not.toBe(a.choices[0]?.message.content);
    const streamed = await post(fastSim(), "/chat/completions", chatBody({ stream: true }));
    const text = streamedText(await streamed.text());
    expect(text.content).toBe(a.choices[0]?.message.content);
    expect(text.reasoning).toBe(a.choices[0]?.message.reasoning_content);
  });

  it("thinks by default on V4 models and reports reasoning tokens", async () => {
    const body = await complete(chatBody());
    const m = body.choices[0]?.message;
    expect(m?.reasoning_content?.length).toBeGreaterThan(0);
    const details = body.usage.completion_tokens_details;
    expect(details?.reasoning_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(details?.reasoning_tokens ?? 0);
    const effortMax = await complete(chatBody({ reasoning_effort: "max" }));
    expect(effortMax.usage.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
  });

  it("cuts at max_tokens with finish_reason length, reasoning first", async () => {
    const body = await complete(chatBody({ max_tokens: 5 }));
    expect(body.choices[0]?.finish_reason).toBe("length");
    expect(body.usage.completion_tokens).toBe(5);
    expect(body.choices[0]?.message.content).toBe("");
    const plain = await complete(chatBody({ max_tokens: 7, thinking: { type: "disabled" } }));
    expect(plain.usage.completion_tokens).toBe(7);
    expect(plain.choices[0]?.finish_reason).toBe("length");
  });

  it("caps natural answers at maxAnswerTokens", async () => {
    const sim = fastSim({ minAnswerTokens: 3, maxAnswerTokens: 4 });
    const body = await complete(chatBody({ thinking: { type: "disabled" } }), sim);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(4);
    expect(body.choices[0]?.finish_reason).toBe("stop");
  });

  it("stops at a stop sequence", async () => {
    const full = await complete(chatBody({ thinking: { type: "disabled" } }));
    const content = full.choices[0]?.message.content ?? "";
    const stop = content.split(" ")[3] ?? "";
    const cut = await complete(chatBody({ thinking: { type: "disabled" }, stop: [stop] }));
    expect(cut.choices[0]?.message.content).toBe(content.slice(0, content.indexOf(stop)));
    expect(cut.choices[0]?.finish_reason).toBe("stop");
  });

  it("answers json_object requests with a JSON object, or whitespace when JSON was not asked for", async () => {
    const json = await complete(
      chatBody({
        response_format: { type: "json_object" },
        messages: [{ role: "user", content: "Reply in json." }],
      }),
    );
    const parsed: unknown = JSON.parse(json.choices[0]?.message.content ?? "");
    expect(typeof parsed).toBe("object");
    const blank = await complete(
      chatBody({ response_format: { type: "json_object" }, max_tokens: 10, thinking: { type: "disabled" } }),
    );
    expect(blank.choices[0]?.message.content.trim()).toBe("");
    expect(blank.choices[0]?.finish_reason).toBe("length");
  });

  it("answers Chinese prompts in Chinese", async () => {
    const body = await complete(
      chatBody({ messages: [{ role: "user", content: "请解释一下缓存是如何工作的" }] }),
    );
    expect(body.choices[0]?.message.content).toMatch(/[\u4e00-\u9fff]/);
  });

  it("serves /v1 and /beta paths and tolerates unknown fields", async () => {
    const sim = fastSim();
    for (const path of ["/v1/chat/completions", "/beta/chat/completions"]) {
      const res = await post(sim, path, chatBody({ n: 1, seed: 3, parallel_tool_calls: true }));
      expect(res.status).toBe(200);
    }
    expect(sim.stats().byPath).toEqual({ "/v1/chat/completions": 1, "/beta/chat/completions": 1 });
  });

  it("uses the era's formats: legacy fingerprints and aliases", async () => {
    const legacy = fastSim({ era: "legacy" });
    const res = await post(legacy, "/chat/completions", chatBody({ model: "deepseek-reasoner" }));
    const body = (await res.json()) as Completion;
    expect(body.system_fingerprint).toMatch(/^fp_[0-9a-f]{10}_prod\d{4}_fp8_kvcache$/);
    expect(body.choices[0]?.message.reasoning_content?.length).toBeGreaterThan(0);
    const v4 = fastSim({ era: "v4" });
    const chat = (await (
      await post(v4, "/chat/completions", chatBody({ model: "deepseek-chat" }))
    ).json()) as Completion;
    expect(chat.model).toBe("deepseek-chat");
    expect(chat.choices[0]?.message).not.toHaveProperty("reasoning_content");
  });

  it("records requests in stats.recent", async () => {
    const sim = fastSim();
    await post(sim, "/chat/completions", chatBody({ stream: false }));
    const recent = sim.stats().recent[0];
    expect(recent).toMatchObject({
      path: "/chat/completions",
      method: "POST",
      model: "deepseek-flash",
      stream: false,
      authorization: AUTH.authorization,
      status: 200,
    });
    expect(recent?.body).toMatchObject({ model: "deepseek-flash" });
    expect(sim.stats().completed).toBe(1);
  });
});
