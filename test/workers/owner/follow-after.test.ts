import { describe, expect, it } from "vitest";
import { createSim, eventually } from "../helpers";
import { heldPool } from "./support";

const MODEL = "deepseek-v4-flash";

describe("following a kept answer that has not started yet", () => {
  it("skips the events up to `starting_after` that are kept after the reader joined", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 0, minAnswerTokens: 20, maxAnswerTokens: 20 });
    // A plain stream holds the pool's only slot, so the background answer has no event yet.
    const { openai, gate, holder } = await heldPool(sim.baseUrl, "follow");
    const created = await openai.responses.create({
      model: MODEL,
      input: "Wait your turn.",
      reasoning: { effort: "none" },
      background: true,
    });
    await eventually(async () => expect((await gate.status()).queued).toBe(1));

    const following = await openai.responses.retrieve(created.id, { stream: true, starting_after: 2 });
    holder.controller.abort();
    const numbers: number[] = [];
    for await (const event of following) numbers.push(event.sequence_number);
    expect(numbers[0]).toBe(3);
    expect(numbers).toEqual(numbers.map((_, i) => i + 3));
  });
});
