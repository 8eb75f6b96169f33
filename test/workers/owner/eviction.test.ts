import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PoolGate } from "../../../src/admission/pool-gate";
import { createSim, eventually, ledgerEntry, singlePoolPolicy } from "../helpers";
import { clientWith } from "./support";

describe("an owner evicted mid-call", () => {
  it("leaks no slot: the pipeline's lease expires, and the response says it was lost", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 10, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const pool = `evict-${crypto.randomUUID().slice(0, 8)}`;
    const policy = singlePoolPolicy(
      sim.baseUrl,
      { concurrency: 1, admission: { leaseBlocks: false, leaseTtlMs: 3_000, adaptive: false } },
      pool,
    );
    const openai = clientWith(sim.baseUrl, { ROUTER_POLICY: policy });
    const created = await openai.responses.create({
      model: "deepseek-v4-flash",
      input: "A long answer that will not finish here.",
      reasoning: { effort: "none" },
      background: true,
    });
    // A fresh stub per call: a crash breaks the stubs that saw it.
    const gate = {
      status: () => env.POOL_GATE.getByName(`${pool}#0`).status(),
      stub: () => env.POOL_GATE.getByName(`${pool}#0`),
    };
    await eventually(async () => expect((await gate.status()).inFlight).toBe(1));
    // A few tokens have been generated (and kept) when the owner dies.
    let deltas = 0;
    for await (const event of await openai.responses.retrieve(created.id, { stream: true })) {
      if (event.type === "response.output_text.delta") deltas++;
      if (deltas === 3) break;
    }

    // The plugin's eviction waits for the owner's run to drain; a crash is what ends it mid-call.
    await abortAllDurableObjects();

    // The owner is gone with its call; whoever asks next learns so, and keeps what was streamed.
    const lost = await openai.responses.retrieve(created.id);
    expect(lost.status).toBe("failed");
    expect(lost.error?.code).toBe("owner_restarted");
    // The gate still counts the call (it may still be running upstream) until its lease expires…
    expect((await gate.status()).inFlight).toBe(1);
    // …and nobody renews the lease any more: once it expires the gate frees the slot.
    await runInDurableObject(gate.stub(), (instance: PoolGate) => {
      instance.clock = () => Date.now() + 10_000;
    });
    await runDurableObjectAlarm(gate.stub());
    expect((await gate.status()).inFlight).toBe(0);
    // Its accounting died with it: the usage is booked, estimated from what was kept, once.
    const entry = await ledgerEntry(created.id);
    expect(entry).toMatchObject({ entryId: `owned:${created.id}`, estimated: true, outcome: "failed" });
    expect(entry.usage.completionTokens).toBeGreaterThanOrEqual(3);
    expect(entry.usage.promptTokens).toBeGreaterThan(0);
  });
});
