import { abortAllDurableObjects } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Admittee, PoolGates } from "../../../src/admission/gate";
import { gateName } from "../../../src/admission/shards";
import type { PolicyInput } from "../../../src/config/policy";
import { RouterError } from "../../../src/errors";
import type { PlanStep } from "../../../src/routing/plan";
import { eventually, singlePoolPolicy } from "../helpers";
import { policyOf } from "../policy-fixtures";

function poolOf(pool: Record<string, unknown>) {
  const name = `client-${crypto.randomUUID().slice(0, 8)}`;
  const policy = policyOf(JSON.parse(singlePoolPolicy("http://127.0.0.1:9", pool, name)) as PolicyInput);
  const step: PlanStep = {
    pool: name,
    provider: "deepseek",
    model: "deepseek-v4-flash",
    upstreamModel: "deepseek-v4-flash",
    disableThinking: false,
  };
  const background: Promise<unknown>[] = [];
  const admittee: Admittee = {
    tenant: { id: "acme" },
    priority: "normal",
    latency: "interactive",
    totalAt: Date.now() + 30_000,
  };
  const gates = (fields: Partial<Admittee> = {}) =>
    new PoolGates(env.POOL_GATE, policy, { ...admittee, ...fields }, (p) => background.push(p));
  return { name, step, gates, settled: () => Promise.all(background) };
}

const signal = () => new AbortController().signal;

describe("PoolGates (the Worker's side)", () => {
  it("retries a wait cut by a gate crash with the same lease id: granted once, never twice", async () => {
    const { name, step, gates, settled } = poolOf({ concurrency: 1, admission: { adaptive: false } });
    // A fresh stub per call: a crash breaks the stubs that saw it.
    const gate = { status: () => env.POOL_GATE.getByName(gateName(name, 0)).status() };
    const holder = await gates().enter(step, true, signal());
    const waiting = gates().enter(step, true, signal());
    await eventually(async () => expect((await gate.status()).queued).toBe(1));

    await abortAllDurableObjects();
    // The retried acquire waits again at the restarted gate, which reloaded the holder's lease.
    await eventually(async () => expect(await gate.status()).toMatchObject({ queued: 1, inFlight: 1 }));
    holder.release({ kind: "success", status: 200 });
    const pass = await waiting;
    expect(await gate.status()).toMatchObject({ inFlight: 1, queued: 0 });
    pass.release({ kind: "success", status: 200 });
    pass.release({ kind: "success", status: 200 });
    await settled();
    expect((await gate.status()).inFlight).toBe(0);
  });

  it("spreads a sharded pool's leases over its gates and sheds a non-final step at once when all are full", async () => {
    const { name, step, gates, settled } = poolOf({
      concurrency: 4,
      admission: { shards: 2, adaptive: false },
    });
    const passes = [];
    for (let i = 0; i < 4; i++) passes.push(await gates().enter(step, true, signal()));
    const shards = [0, 1].map((i) => env.POOL_GATE.getByName(gateName(name, i)));
    expect(await Promise.all(shards.map(async (s) => (await s.status()).inFlight))).toEqual([2, 2]);
    const refused = await gates()
      .enter(step, false, signal())
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RouterError);
    expect(refused).toMatchObject({ code: "pool_saturated", status: 429 });
    for (const pass of passes) pass.release({ kind: "success", status: 200 });
    await settled();
    expect(await Promise.all(shards.map(async (s) => (await s.status()).inFlight))).toEqual([0, 0]);
  });

  it("spends one wait budget per request, across retries and steps", async () => {
    const { step, gates, settled } = poolOf({ concurrency: 1, admission: { adaptive: false } });
    const holder = await gates().enter(step, true, signal());
    const request = gates({ maxWaitMs: 300 });
    const timedOut = await request.enter(step, true, signal()).catch((error: unknown) => error);
    expect(timedOut).toMatchObject({ code: "queue_timeout" });
    const startedAt = Date.now();
    const again = await request.enter(step, true, signal()).catch((error: unknown) => error);
    expect(again).toMatchObject({ code: "pool_saturated" });
    expect(Date.now() - startedAt).toBeLessThan(250);
    holder.release({ kind: "success", status: 200 });
    await settled();
  });

  it("says when a queued step has waited long enough for a stream to be committed", async () => {
    const { step, gates, settled } = poolOf({ concurrency: 1, admission: { adaptive: false } });
    const holder = await gates().enter(step, true, signal());
    const waiting = gates();
    const pass = waiting.enter(step, true, signal());
    const notice = await waiting.queued;
    expect(notice.step.pool).toBe(step.pool);
    expect(notice.waitedMs).toBeGreaterThanOrEqual(900);
    holder.release({ kind: "abandoned" });
    (await pass).release({ kind: "success", status: 200 });
    await settled();
  });
});
