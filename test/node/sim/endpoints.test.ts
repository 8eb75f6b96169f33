import { describe, expect, it } from "vitest";
import { AUTH, chunks, fastSim, post } from "./helpers";

type Fim = {
  id: string;
  object: string;
  model: string;
  choices: Array<{ text: string; index: number; logprobs: null; finish_reason: string }>;
  usage: { prompt_tokens: number; completion_tokens: number; prompt_cache_hit_tokens: number };
};

describe("GET /models", () => {
  it("lists the era's models without a created field", async () => {
    const list = async (era: "v41" | "v4" | "legacy", path = "/models") =>
      (await (await fastSim({ era }).app.request(path, { headers: AUTH })).json()) as unknown;
    expect(await list("v41")).toEqual({
      object: "list",
      data: [
        { id: "deepseek-flash", object: "model", owned_by: "deepseek" },
        { id: "deepseek-v4-pro", object: "model", owned_by: "deepseek" },
      ],
    });
    expect(await list("v4", "/v1/models")).toMatchObject({
      data: [{ id: "deepseek-v4-flash" }, { id: "deepseek-v4-pro" }],
    });
    expect(await list("legacy")).toMatchObject({
      data: [{ id: "deepseek-chat" }, { id: "deepseek-reasoner" }],
    });
  });
});

describe("GET /user/balance", () => {
  it("reports the balance as two-decimal strings", async () => {
    const sim = fastSim({ balance: 12.5, currency: "CNY" });
    for (const path of ["/user/balance", "/v1/user/balance"]) {
      const body = await (await sim.app.request(path, { headers: AUTH })).json();
      expect(body).toEqual({
        is_available: true,
        balance_infos: [
          { currency: "CNY", total_balance: "12.50", granted_balance: "0.00", topped_up_balance: "12.50" },
        ],
      });
    }
  });
});

describe("POST /beta/completions (FIM)", () => {
  const fim = {
    model: "deepseek-flash",
    prompt: "def fib(n):\n",
    suffix: "\n    return a\n",
    max_tokens: 40,
  };

  it("completes code with a text_completion object", async () => {
    const res = await post(fastSim(), "/beta/completions", fim);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Fim;
    expect(body.object).toBe("text_completion");
    expect(body.choices[0]?.text.length).toBeGreaterThan(0);
    expect(body.choices[0]?.finish_reason).toMatch(/^(stop|length)$/);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(40);
    const again = (await (await post(fastSim(), "/beta/completions", fim)).json()) as Fim;
    expect(again.choices[0]?.text).toBe(body.choices[0]?.text);
  });

  it("echoes the prompt and streams text deltas", async () => {
    const echoed = (await (await post(fastSim(), "/beta/completions", { ...fim, echo: true })).json()) as Fim;
    expect(echoed.choices[0]?.text.startsWith(fim.prompt)).toBe(true);
    const res = await post(fastSim(), "/beta/completions", { ...fim, stream: true });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const text = await res.text();
    const cs = chunks(text);
    expect(cs.every((c) => c.object === "text_completion")).toBe(true);
    expect(
      cs
        .slice(0, -1)
        .every((c) => typeof c.choices[0]?.text === "string" && c.choices[0]?.finish_reason === null),
    ).toBe(true);
    expect(cs.at(-1)?.usage).toMatchObject({ completion_tokens: cs.length - 1 });
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("allows at most 4096 tokens and only non-thinking models", async () => {
    const res = await post(fastSim(), "/beta/completions", { ...fim, max_tokens: 5000 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "Invalid max_tokens value, the valid range of max_tokens is [1, 4096]",
    );
    expect(
      (await post(fastSim({ era: "v4" }), "/beta/completions", { ...fim, model: "deepseek-reasoner" }))
        .status,
    ).toBe(400);
    expect(
      (await post(fastSim({ era: "legacy" }), "/beta/completions", { ...fim, model: "deepseek-chat" }))
        .status,
    ).toBe(200);
    const missing = await post(fastSim(), "/beta/completions", { model: "deepseek-flash" });
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(
      /missing field `prompt`/,
    );
  });

  it("is only served under /beta", async () => {
    expect((await post(fastSim(), "/completions", fim)).status).toBe(404);
  });
});
