import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BATCH_QUEUE, runBatchLines } from "../../../src/batch/consumer";
import type { LineMessage } from "../../../src/batch/types";
import worker from "../../../src/index";
import { chatBody, createSim, eventually, singlePoolPolicy } from "../helpers";
import { capturedBatches, chatLine, MONDAY_OFF_PEAK, openaiClient, sentLines, submitBatch } from "./support";

let batches: Awaited<ReturnType<typeof capturedBatches>>;
beforeAll(async () => {
  batches = await capturedBatches("acme", MONDAY_OFF_PEAK);
});

describe("interactive traffic while a large batch runs", () => {
  it("is admitted ahead of every batch line still waiting for the pool", async () => {
    const sim = await createSim({ ttftMs: 150 });
    // Two slots: the batch alone could fill the pool many times over.
    const overrides = { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { concurrency: 2 }) };
    const openai = openaiClient();
    const lines = Array.from({ length: 16 }, (_, i) =>
      chatLine(`bulk-${i}`, `bulk ${i} ${crypto.randomUUID()}`),
    );
    const batch = await submitBatch(openai, lines, { schedule: "now" });
    const messages = await sentLines(batches.sent, batch.id, 16);

    const ctx = createExecutionContext();
    const delivery = createMessageBatch<LineMessage>(
      BATCH_QUEUE,
      messages.map((body) => ({ id: `m-${body.index}`, timestamp: new Date(), attempts: 1, body })),
    );
    const running = runBatchLines(delivery, { ...env, ...overrides }, ctx, worker.fetch);
    // Once the batch holds both slots and the rest of it is queued, interactive requests arrive.
    await eventually(async () => expect((await sim.stats()).inFlight).toBe(2));
    const interactive = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        sim.call(
          "/v1/chat/completions",
          { json: chatBody({ messages: [{ role: "user", content: `now ${i}` }] }) },
          overrides,
        ),
      ),
    );
    await running;
    await waitOnExecutionContext(ctx);

    for (const response of interactive) {
      expect(response.status).toBe(200);
      expect(response.headers.get("x-router-class")).toContain("priority=normal");
    }
    // In the order requests reached the upstream, each interactive request took the next free slot:
    // only the two lines already running went before them.
    const order = (await sim.stats()).recent.map((r) =>
      JSON.stringify(r.body).includes('"now ') ? "interactive" : "batch",
    );
    expect(order.slice(0, 5)).toEqual(["batch", "batch", "interactive", "interactive", "interactive"]);
    await eventually(async () => {
      expect((await openai.batches.retrieve(batch.id)).request_counts).toEqual({
        total: 16,
        completed: 16,
        failed: 0,
      });
    });
  });
});
