import { describe, expect, it } from "vitest";
import { createSim, eventually } from "../helpers";
import { heldPool } from "./support";

const MODEL = "deepseek-v4-flash";

describe("an owned call is admitted like any other", () => {
  it("waits for a slot behind a running call, and a cancel withdraws it before it reaches the upstream", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 10, minAnswerTokens: 400, maxAnswerTokens: 400 });
    // A plain stream holds the pool's only slot.
    const { openai, gate, holder } = await heldPool(sim.baseUrl, "owned");
    expect((await gate.status()).inFlight).toBe(1);

    const queued = await openai.responses.create({
      model: MODEL,
      input: "Wait your turn.",
      reasoning: { effort: "none" },
      background: true,
    });
    await eventually(async () => expect((await gate.status()).queued).toBe(1));
    expect((await sim.stats()).requests).toBe(1);

    expect((await openai.responses.cancel(queued.id)).status).toBe("cancelled");
    await eventually(async () => expect((await gate.status()).queued).toBe(0));
    holder.controller.abort();
    await eventually(async () => expect((await gate.status()).inFlight).toBe(0), 5_000);
    expect((await sim.stats()).requests).toBe(1);
  });
});
