import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BATCH_QUEUE, type ConsumerHooks, runBatchLines } from "../../../src/batch/consumer";
import { LEASE_MS } from "../../../src/batch/tenant-batches";
import type { LineMessage } from "../../../src/batch/types";
import worker from "../../../src/index";
import type { LedgerEntry } from "../../../src/ledger/entry";
import { createSim, eventually, type SimInstance, singlePoolPolicy } from "../helpers";
import {
  byCustomId,
  capturedBatches,
  chatLine,
  MONDAY_OFF_PEAK,
  openaiClient,
  sentLines,
  submitBatch,
} from "./support";

const TENANT = "acme";
let batches: Awaited<ReturnType<typeof capturedBatches>>;

beforeAll(async () => {
  batches = await capturedBatches(TENANT, MONDAY_OFF_PEAK);
});

/** Uploads `count` temperature-0 lines and creates a batch that starts at once; returns it and its line messages. */
async function startBatch(count: number) {
  const openai = openaiClient();
  const tag = crypto.randomUUID();
  const lines = Array.from({ length: count }, (_, i) =>
    chatLine(`line-${i}`, `${tag} question ${i}`, { temperature: 0 }),
  );
  const batch = await submitBatch(openai, lines, { schedule: "now" });
  return { openai, batch, messages: await sentLines(batches.sent, batch.id, count) };
}

/** One consumer invocation over `messages`, as the queue would deliver them, against `sim`. */
async function deliver(
  sim: SimInstance,
  messages: LineMessage[],
  hooks: ConsumerHooks = {},
  attempts = 1,
  overrides: Record<string, string> = {},
) {
  const batch = createMessageBatch<LineMessage>(
    BATCH_QUEUE,
    messages.map((body, i) => ({
      id: `m-${body.index}-${attempts}-${i}`,
      timestamp: new Date(),
      attempts,
      body,
    })),
  );
  const ctx = createExecutionContext();
  const crashed = await runBatchLines(
    batch,
    { ...env, DEEPSEEK_BASE_URL: sim.baseUrl, ...overrides },
    ctx,
    worker.fetch,
    hooks,
  ).then(
    () => false,
    () => true,
  );
  await waitOnExecutionContext(ctx);
  const result = await getQueueResult(batch, ctx);
  const acked = new Set(result.explicitAcks);
  return {
    crashed,
    acked: messages
      .filter((_, i) => acked.has(`m-${messages[i]?.index}-${attempts}-${i}`))
      .map((m) => m.index),
    retried: result.retryMessages.map((r) => Number(r.msgId.split("-")[1])),
  };
}

async function finished(openai: ReturnType<typeof openaiClient>, id: string, status: string) {
  let batch = await openai.batches.retrieve(id);
  await eventually(async () => {
    batch = await openai.batches.retrieve(id);
    expect(batch.status).toBe(status);
  });
  return batch;
}

describe("nothing lost, nothing twice", () => {
  it("a consumer that crashes mid-batch loses no line, and redelivery runs none twice", async () => {
    const sim = await createSim();
    const { openai, batch, messages } = await startBatch(5);
    // Line 2 reaches the upstream and the consumer dies before recording it; line 3 dies before running.
    const first = await deliver(sim, messages, {
      afterRun: (line) => {
        if (line.index === 2) throw new Error("crash after the upstream answered");
      },
      beforeRun: (line) => {
        if (line.index === 3) throw new Error("crash before running");
      },
    });
    expect(first.crashed).toBe(true);
    await eventually(async () => {
      expect((await openai.batches.retrieve(batch.id)).request_counts?.completed).toBe(3);
    });

    // Redelivery of every message while the dead run's lease holds: nothing runs, 2 and 3 come back later.
    const second = await deliver(sim, messages, {}, 2);
    expect(second.acked.sort()).toEqual([0, 1, 4]);
    expect(second.retried.sort()).toEqual([2, 3]);
    expect((await sim.stats()).requests).toBe(4);

    // The leases run out: the lines run. Line 2's answer was cached by its first run, so the upstream sees it once.
    await batches.setClock(MONDAY_OFF_PEAK + LEASE_MS + 1);
    const third = await deliver(
      sim,
      messages.filter((m) => m.index === 2 || m.index === 3),
      {},
      3,
    );
    expect(third.acked.sort()).toEqual([2, 3]);
    await batches.setClock(MONDAY_OFF_PEAK);

    const done = await finished(openai, batch.id, "completed");
    expect(done.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect((await sim.stats()).requests).toBe(5);
    const output = byCustomId(await (await openai.files.content(done.output_file_id as string)).text());
    expect(output.size).toBe(5);
    // Usage is booked once per line, however often it ran.
    const rows: LedgerEntry[] = [];
    await eventually(async () => {
      rows.splice(
        0,
        rows.length,
        ...(await env.TENANT_LEDGER.getByName(TENANT).entries(`batch-${batch.id.slice(6)}-2`)),
      );
      expect(rows.filter((row) => row.kind === "request")).toHaveLength(1);
    });
    expect(rows[0]?.usage.completionTokens).toBeGreaterThan(0);
  });

  it("an upstream 503 storm gives lines back for later; each ends with one result, booked once", async () => {
    const sim = await createSim({ faults: { statusRates: { "503": 1 } } });
    // A pool of its own that does not retry: the consumer's retries are under test, and the two
    // failures stay under the circuit breaker's threshold.
    const policy = { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { retries: { max: 0 } }) };
    const { openai, batch, messages } = await startBatch(2);
    const stormy = await deliver(sim, messages, {}, 1, policy);
    expect(stormy.retried.sort()).toEqual([0, 1]);
    expect((await openai.batches.retrieve(batch.id)).request_counts).toEqual({
      total: 2,
      completed: 0,
      failed: 0,
    });

    await sim.configure({ faults: { statusRates: { "503": 0 } } });
    const calm = await deliver(sim, messages, {}, 2, policy);
    expect(calm.acked.sort()).toEqual([0, 1]);
    const done = await finished(openai, batch.id, "completed");
    expect(done.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    expect(byCustomId(await (await openai.files.content(done.output_file_id as string)).text()).size).toBe(2);
    // The refused run and the answered one are booked apart; the answer's usage once.
    const rows = await env.TENANT_LEDGER.getByName(TENANT).entries(`batch-${batch.id.slice(6)}-0`);
    const requests = rows.filter((row) => row.kind === "request");
    expect(requests.map((row) => row.status).sort()).toEqual([200, 503]);
    expect(requests.find((row) => row.status === 503)?.costUsd).toBe(0);
  });

  it("cancel midway keeps what ran and reports every other line as cancelled", async () => {
    const sim = await createSim();
    const { openai, batch, messages } = await startBatch(6);
    await deliver(sim, messages.slice(0, 2));
    const cancelling = await openai.batches.cancel(batch.id);
    expect(["cancelling", "cancelled"]).toContain(cancelling.status);
    const late = await deliver(sim, messages.slice(2), {}, 1);
    expect(late.acked.sort()).toEqual([2, 3, 4, 5]);

    const done = await finished(openai, batch.id, "cancelled");
    expect(done.request_counts).toEqual({ total: 6, completed: 2, failed: 4 });
    expect(done.cancelled_at).not.toBeNull();
    expect((await sim.stats()).requests).toBe(2);
    const output = byCustomId(await (await openai.files.content(done.output_file_id as string)).text());
    const errors = byCustomId(await (await openai.files.content(done.error_file_id as string)).text());
    expect([...output.keys()].sort()).toEqual(["line-0", "line-1"]);
    expect([...errors.keys()].sort()).toEqual(["line-2", "line-3", "line-4", "line-5"]);
    expect(errors.get("line-2")).toMatchObject({ response: null, error: { code: "batch_cancelled" } });
  });
});
