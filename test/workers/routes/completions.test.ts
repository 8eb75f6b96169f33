import { describe, expect, it } from "vitest";
import { createSim, errorOf, readSse } from "../helpers";

const fim = {
  model: "deepseek-v4-flash",
  prompt: "def fib(n):\n    ",
  suffix: "\n    return a",
  max_tokens: 64,
};

describe("POST /beta/completions (FIM)", () => {
  it("answers a text_completion", async () => {
    const sim = await createSim();
    const response = await sim.call("/beta/completions", { json: fim });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; choices: Array<{ text: string }> };
    expect(body.object).toBe("text_completion");
    expect(body.choices[0]?.text.length).toBeGreaterThan(0);
    expect((await sim.stats()).recent[0]?.path).toBe("/beta/completions");
  });

  it("streams text deltas", async () => {
    const sim = await createSim();
    const response = await sim.call("/beta/completions", { json: { ...fim, stream: true } });
    const events = await readSse(response);
    expect(events.at(-1)).toBe("[DONE]");
    expect(JSON.parse(events[0] ?? "{}").object).toBe("text_completion");
  });

  it("400s a FIM request without a prompt, naming it", async () => {
    const sim = await createSim();
    const response = await sim.call("/beta/completions", { json: { model: "deepseek-v4-flash" } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).param).toBe("prompt");
  });
});
