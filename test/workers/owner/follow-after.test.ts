import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSim, eventually, singlePoolPolicy } from "../helpers";
import { clientWith } from "./support";

const MODEL = "deepseek-v4-flash";

describe("following a kept answer that has not started yet", () => {
  it("skips the events up to `starting_after` that are kept after the reader joined", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 0, minAnswerTokens: 20, maxAnswerTokens: 20 });
    const pool = `follow-${crypto.randomUUID().slice(0, 8)}`;
    const policy = singlePoolPolicy(
      sim.baseUrl,
      { concurrency: 1, admission: { leaseBlocks: false, adaptive: false } },
      pool,
    );
    const openai = clientWith(sim.baseUrl, { ROUTER_POLICY: policy });
    const gate = env.POOL_GATE.getByName(`${pool}#0`);
    // A plain stream holds the pool's only slot, so the background answer has no event yet.
    const holder = await openai.responses.create({
      model: MODEL,
      input: "Hold the slot.",
      reasoning: { effort: "none" },
      stream: true,
    });
    await holder[Symbol.asyncIterator]().next();
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
