import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSim, eventually, singlePoolPolicy } from "../helpers";
import { clientWith } from "./support";

const MODEL = "deepseek-v4-flash";

describe("an owned call is admitted like any other", () => {
  it("waits for a slot behind a running call, and a cancel withdraws it before it reaches the upstream", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 10, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const pool = `owned-${crypto.randomUUID().slice(0, 8)}`;
    const policy = singlePoolPolicy(
      sim.baseUrl,
      { concurrency: 1, admission: { leaseBlocks: false, adaptive: false } },
      pool,
    );
    const openai = clientWith(sim.baseUrl, { ROUTER_POLICY: policy });
    const gate = env.POOL_GATE.getByName(`${pool}#0`);
    // A plain stream holds the pool's only slot.
    const holder = await openai.responses.create({
      model: MODEL,
      input: "Hold the slot.",
      reasoning: { effort: "none" },
      stream: true,
    });
    const reading = holder[Symbol.asyncIterator]();
    await reading.next();
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
