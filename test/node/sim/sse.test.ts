import { describe, expect, it } from "vitest";
import { chatBody, chunks, fastSim, parseSse, post } from "./helpers";

async function stream(
  body: Record<string, unknown>,
  sim = fastSim(),
): Promise<{ res: Response; text: string }> {
  const res = await post(sim, "/chat/completions", { ...body, stream: true });
  return { res, text: await res.text() };
}

describe("SSE framing", () => {
  it("sends compact data events, role chunk first, usage on the finish chunk, then [DONE]", async () => {
    const { res, text } = await stream(chatBody({ thinking: { type: "disabled" } }));
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-ds-trace-id")).toMatch(/^[0-9a-f]{32}$/);
    expect(text.startsWith('data: {"id":"')).toBe(true);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const cs = chunks(text);
    const first = cs[0];
    expect(Object.keys(first ?? {})).toEqual([
      "id",
      "object",
      "created",
      "model",
      "system_fingerprint",
      "choices",
    ]);
    expect(first?.object).toBe("chat.completion.chunk");
    expect(first?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(new Set(cs.map((c) => c.id)).size).toBe(1);
    const middle = cs.slice(1, -1);
    expect(middle.length).toBeGreaterThan(10);
    for (const c of middle) {
      expect(Object.keys(c.choices[0]?.delta ?? {})).toEqual(["content"]);
      expect(c.choices[0]?.finish_reason).toBeNull();
      expect(c).not.toHaveProperty("usage");
    }
    const last = cs.at(-1);
    expect(last?.choices[0]?.delta).toEqual({ content: "" });
    expect(last?.choices[0]?.finish_reason).toBe("stop");
    expect(last?.usage).toMatchObject({
      completion_tokens: middle.length,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('puts "usage":null on every earlier chunk with include_usage', async () => {
    const { text } = await stream(chatBody({ stream_options: { include_usage: true } }));
    const cs = chunks(text);
    for (const c of cs.slice(0, -1)) expect(c.usage).toBeNull();
    expect(cs.at(-1)?.usage).toMatchObject({ total_tokens: expect.any(Number) });
  });

  it("streams the reasoning phase, then the answer, in the V4 thinking shapes", async () => {
    const { text } = await stream(chatBody());
    const deltas = chunks(text).map((c) => c.choices[0]?.delta ?? {});
    expect(deltas[0]).toEqual({ role: "assistant", content: null, reasoning_content: "" });
    const firstAnswer = deltas.findIndex((d, i) => i > 0 && d.content !== null);
    const reasoning = deltas.slice(1, firstAnswer);
    expect(reasoning.length).toBeGreaterThan(0);
    for (const d of reasoning) {
      expect(d.content).toBeNull();
      expect(typeof d.reasoning_content).toBe("string");
    }
    const answer = deltas.slice(firstAnswer, -1);
    expect(answer.length).toBeGreaterThan(0);
    for (const d of answer) {
      expect(typeof d.content).toBe("string");
      expect(d.reasoning_content).toBeNull();
    }
    expect(deltas.at(-1)).toEqual({ content: "", reasoning_content: null });
    const usage = chunks(text).at(-1)?.usage as { completion_tokens_details: { reasoning_tokens: number } };
    expect(usage.completion_tokens_details.reasoning_tokens).toBe(reasoning.length);
  });

  it("offers the OpenAI-style separate usage chunk as an option", async () => {
    const sim = fastSim({ separateUsageChunk: true });
    const withUsage = chunks((await stream(chatBody({ stream_options: { include_usage: true } }), sim)).text);
    expect(withUsage.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    expect(withUsage.at(-2)?.usage).toBeNull();
    expect(withUsage.at(-1)?.choices).toEqual([]);
    expect(withUsage.at(-1)?.usage).toMatchObject({ prompt_tokens: expect.any(Number) });
    const without = chunks((await stream(chatBody(), sim)).text);
    expect(without.every((c) => !("usage" in c))).toBe(true);
  });

  it("paces tokens and waits for the first token in real time", async () => {
    const sim = fastSim({ ttftMs: 120, tokensPerS: 400, minAnswerTokens: 40, maxAnswerTokens: 40 });
    const started = Date.now();
    const res = await post(
      sim,
      "/chat/completions",
      chatBody({ stream: true, thinking: { type: "disabled" } }),
    );
    const reader = res.body?.getReader();
    const first = await reader?.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first?.value)).toContain('"role":"assistant"');
    let rest = "";
    for (;;) {
      const r = await reader?.read();
      if (!r || r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    const total = Date.now() - started;
    expect(firstAt).toBeGreaterThanOrEqual(100);
    expect(total - firstAt).toBeGreaterThanOrEqual(60);
    expect(parseSse(rest).done).toBe(true);
  });

  it("can send keep-alive comments while waiting for the first token", async () => {
    const sim = fastSim({ ttftMs: 70, keepAliveBeforeFirstTokenMs: 20 });
    const text = await (await post(sim, "/chat/completions", chatBody({ stream: true }))).text();
    expect(text.startsWith(": keep-alive\n\n: keep-alive\n\n")).toBe(true);
    expect(parseSse(text).done).toBe(true);
    const json = await (await post(sim, "/chat/completions", chatBody())).text();
    expect(json).toMatch(/^\n\n+\{"id"/);
    expect(JSON.parse(json)).toMatchObject({ object: "chat.completion" });
  });
});
