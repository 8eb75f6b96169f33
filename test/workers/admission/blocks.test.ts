import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BlockHolder, IDLE_RETURN_MS } from "../../../src/admission/block-holder";
import { holderExpiry, type LendRequest } from "../../../src/admission/budget";
import { type Admittee, PoolGates } from "../../../src/admission/gate";
import type { PoolGate } from "../../../src/admission/pool-gate";
import { gateName } from "../../../src/admission/shards";
import type { AcquireRequest, GateLimits } from "../../../src/admission/types";
import type { PolicyInput } from "../../../src/config/policy";
import type { PlanStep } from "../../../src/routing/plan";
import { singlePoolPolicy } from "../helpers";
import { policyOf } from "../policy-fixtures";

const TTL = 10_000;
const ok = { kind: "success" as const, status: 200 };

function freshGate(): DurableObjectStub<PoolGate> {
  return env.POOL_GATE.getByName(`blocks-${crypto.randomUUID()}#0`);
}

function limitsOf(ceiling: number, fields: Partial<GateLimits> = {}): GateLimits {
  return { ceiling, maxQueue: 100, leaseTtlMs: 60_000, adaptive: false, ...fields };
}

/** An isolate's holder talking to `gate`, with a clock the test moves. */
function isolate(gate: DurableObjectStub<PoolGate>, limits: GateLimits) {
  const holder = new BlockHolder(gate.id.toString(), TTL);
  const lend = (request: LendRequest) => gate.lend(request, limits);
  return {
    holder,
    sync: async (now: number) => {
      await holder.sync(lend, () => now);
    },
  };
}

function ask(limits: GateLimits, fields: Partial<AcquireRequest> = {}): AcquireRequest {
  return {
    leaseId: crypto.randomUUID(),
    tenant: "acme",
    priority: "normal",
    latency: "interactive",
    waitMs: 0,
    limits,
    ...fields,
  };
}

/** `n` requests in flight at the gate from this isolate, and one more that found no spare permit. */
function demand(holder: BlockHolder, n: number, now: number): void {
  for (let i = 0; i < n; i++) holder.begin(now);
  expect(holder.take(now)).toBe(false);
}

/** Moves the gate's clock to `at`. */
async function setGateClock(gate: DurableObjectStub<PoolGate>, at: number): Promise<void> {
  await runInDurableObject(gate, (instance: PoolGate) => {
    instance.clock = () => at;
  });
}

/** A deterministic sequence in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe("blocks of permits: the fleet-wide ceiling holds", () => {
  it("never has more permits out than the limit, parked spare included, whatever four isolates and direct callers do", async () => {
    const gate = freshGate();
    const LIMIT = 20;
    const limits = limitsOf(LIMIT);
    const isolates = Array.from({ length: 4 }, () => isolate(gate, limits));
    const taken: Array<{ holder: BlockHolder; at: number }> = [];
    const direct: string[] = [];
    const random = seeded(11);
    let now = Date.now();
    for (let step = 0; step < 400; step++) {
      now += 5;
      const i = Math.floor(random() * isolates.length);
      const { holder, sync } = isolates[i] as (typeof isolates)[number];
      const roll = random();
      if (roll < 0.4) {
        if (holder.take(now)) taken.push({ holder, at: now });
        else {
          const request = ask(limits);
          const result = await gate.acquire(request);
          holder.observe(result.load);
          if (result.granted) direct.push(request.leaseId);
        }
      } else if (roll < 0.7 && taken.length > 0) {
        const [permit] = taken.splice(Math.floor(random() * taken.length), 1);
        permit?.holder.put(ok, now - permit.at);
      } else if (roll < 0.85 && direct.length > 0) {
        const [leaseId] = direct.splice(Math.floor(random() * direct.length), 1);
        await gate.release(leaseId as string, ok);
      } else {
        await sync(now + TTL / 2);
      }
      const status = await gate.status();
      const spendable = isolates.reduce((n, { holder: h }) => n + h.view().units, 0);
      const inUse = isolates.reduce((n, { holder: h }) => n + h.view().inUse, 0);
      expect(status.inFlight).toBeLessThanOrEqual(LIMIT);
      // What isolates may spend is counted at the gate; what is really in flight fits the limit.
      expect(spendable).toBeLessThanOrEqual(status.lent);
      expect(inUse + direct.length).toBeLessThanOrEqual(LIMIT);
    }
    // Blocks were really lent and spent, not skipped.
    expect(taken.length + isolates.reduce((n, { holder }) => n + holder.view().inUse, 0)).toBeGreaterThan(0);
  });

  it("lends spare only above the reserve and with nobody waiting, shrinking as the pool fills", async () => {
    const gate = freshGate();
    const limits = limitsOf(16);
    const first = isolate(gate, limits);
    demand(first.holder, 9, Date.now());
    await first.sync(Date.now());
    // 16 − 2 reserved = 14 free; half of it at most.
    expect(first.holder.view().units).toBe(7);
    const second = isolate(gate, limits);
    demand(second.holder, 9, Date.now());
    await second.sync(Date.now());
    expect(second.holder.view().units).toBe(3);
    expect((await gate.status()).lent).toBe(10);
  });
});

describe("blocks of permits: holders that die, gates that restart", () => {
  it("frees a dead holder's permits after the block's TTL, and not before", async () => {
    const gate = freshGate();
    const limits = limitsOf(8);
    const { holder, sync } = isolate(gate, limits);
    const t0 = Date.now();
    demand(holder, 4, t0);
    await sync(t0);
    const lent = holder.view().units;
    expect(lent).toBeGreaterThan(0);
    // The lease as the holder sees it: N units of concurrency from this gate, until 9/10 of the TTL.
    expect(holder.view()).toMatchObject({ budget: "concurrency", expiresAt: holderExpiry(t0, TTL) });
    expect(holder.take(t0)).toBe(true);
    // The holder stops spending before the gate's expiry, on its own clock.
    expect(holder.take(holderExpiry(t0, TTL))).toBe(false);

    // The holder dies here. Just before the TTL the gate still counts its block…
    await setGateClock(gate, t0 + TTL - 100);
    expect(await gate.acquire(ask(limits))).toMatchObject({ load: { inFlight: 1 + lent } });
    // …and once the TTL has passed, the permits are free again.
    await setGateClock(gate, t0 + TTL + 1_000);
    const after = await gate.acquire(ask(limits));
    expect(after).toMatchObject({ granted: true, load: { inFlight: 2 } });
    expect(await gate.status()).toMatchObject({ lent: 0, blocks: 0, expired: 1 });
  });

  it("reloads every block after eviction: nothing lent twice, a renewal keeps the same units", async () => {
    const gate = freshGate();
    const limits = limitsOf(8);
    const { holder, sync } = isolate(gate, limits);
    demand(holder, 4, Date.now());
    await sync(Date.now());
    const units = holder.view().units;
    expect(units).toBeGreaterThan(0);

    await evictDurableObject(gate);
    const after = env.POOL_GATE.get(gate.id);
    expect(await after.status()).toMatchObject({ lent: units, inFlight: units, blocks: 1 });
    // The holder renews through the restarted gate: the same lease, not a second one.
    const renewal = await after.lend(
      { leaseId: holder.leaseId, keep: units, want: units, inUse: 0, spent: [], ttlMs: TTL },
      limits,
    );
    expect(renewal.units).toBe(units);
    expect((await after.status()).lent).toBe(units);
    // Direct callers get the rest and no more.
    let granted = 0;
    while ((await after.acquire(ask(limits))).granted) granted++;
    expect(granted).toBe(8 - units);
  });
});

describe("blocks of permits: near saturation the gate decides", () => {
  it("stops local spending under pressure and hands a parked permit to the queue's high-priority waiter first", async () => {
    const gate = freshGate();
    const limits = limitsOf(8);
    const { holder, sync } = isolate(gate, limits);
    const t0 = Date.now();
    demand(holder, 4, t0);
    await sync(t0);
    expect(holder.view().units).toBe(3);
    expect(holder.take(t0)).toBe(true);
    // Direct callers fill the pool; then a low and a high priority request queue at the gate.
    const held: string[] = [];
    for (;;) {
      const request = ask(limits);
      if (!(await gate.acquire(request)).granted) break;
      held.push(request.leaseId);
    }
    const order: string[] = [];
    const low = gate.acquire(ask(limits, { priority: "low", waitMs: 5_000 })).then((r) => {
      order.push("low");
      return r;
    });
    const high = gate.acquire(ask(limits, { priority: "high", waitMs: 5_000 })).then((r) => {
      order.push("high");
      return r;
    });
    expect((await gate.status()).queued).toBe(2);

    // The holder's next call gives back its two parked spares, and the gate serves its queue with them.
    await sync(t0 + TTL / 2);
    expect(holder.view()).toMatchObject({ units: 1, inUse: 1, pressure: true });
    expect(holder.take(t0 + TTL / 2)).toBe(false);
    expect(await high).toMatchObject({ granted: true });
    expect(await low).toMatchObject({ granted: true });
    expect(order).toEqual(["high", "low"]);
    expect(await gate.status()).toMatchObject({ inFlight: 8, queued: 0, lent: 1 });
  });

  it("gives each permit back to the gate under pressure instead of reusing it", async () => {
    const gate = freshGate();
    const limits = limitsOf(8);
    const { holder, sync } = isolate(gate, limits);
    const t0 = Date.now();
    demand(holder, 4, t0);
    await sync(t0);
    expect(holder.take(t0)).toBe(true);
    holder.observe({ inFlight: 8, queued: 1, limit: 8 });
    holder.put(ok, 10);
    expect(holder.view()).toMatchObject({ units: 0, inUse: 0 });
    await sync(t0 + 20);
    expect(await gate.status()).toMatchObject({ lent: 0, blocks: 0 });
  });

  it("lets the adaptive limit learn from permits spent locally: an upstream 429 shrinks it at once", async () => {
    const gate = freshGate();
    const limits = limitsOf(8, { adaptive: true });
    const { holder, sync } = isolate(gate, limits);
    const t0 = Date.now();
    demand(holder, 4, t0);
    await sync(t0);
    expect(holder.take(t0 + 1)).toBe(true);
    holder.put({ kind: "failure", status: 429 }, 50);
    await sync(t0 + 60);
    // The limit learned at once, and the block's spare went back rather than meet more refusals.
    expect(await gate.status()).toMatchObject({ limit: 7, lent: 0 });
    expect(holder.view().units).toBe(0);
  });

  it("returns an idle block", async () => {
    const gate = freshGate();
    const limits = limitsOf(8);
    const { holder, sync } = isolate(gate, limits);
    const t0 = Date.now();
    demand(holder, 1, t0);
    await sync(t0);
    holder.end();
    expect(holder.idle()).toBe(true);
    expect((await gate.status()).lent).toBeGreaterThan(0);
    holder.returnIfIdle(t0 + IDLE_RETURN_MS);
    await sync(t0 + IDLE_RETURN_MS);
    expect(holder.view().units).toBe(0);
    expect(await gate.status()).toMatchObject({ lent: 0, blocks: 0 });
  });
});

describe("blocks of permits: spare does not sit parked", () => {
  it("gives spare back after a second without a new request, while long answers keep their permits", async () => {
    const gate = freshGate();
    const limits = limitsOf(16);
    const { holder, sync } = isolate(gate, limits);
    const t0 = Date.now();
    demand(holder, 2, t0);
    await sync(t0);
    expect(holder.take(t0)).toBe(true);
    expect(holder.view().units).toBeGreaterThan(1);
    expect(holder.idle()).toBe(true);
    holder.returnIfIdle(t0 + IDLE_RETURN_MS);
    await sync(t0 + IDLE_RETURN_MS);
    expect(holder.view()).toMatchObject({ units: 1, inUse: 1 });
    expect(await gate.status()).toMatchObject({ lent: 1 });
  });
});

describe("PoolGates with blocks (the Worker's side)", () => {
  function poolOf(pool: Record<string, unknown>) {
    const name = `blocks-${crypto.randomUUID().slice(0, 8)}`;
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
    const gate = env.POOL_GATE.getByName(gateName(name, 0));
    return { step, gates, gate, settled: () => Promise.all(background) };
  }
  const signal = () => new AbortController().signal;

  it("admits from the isolate's block after the first request: no gate call on the request path", async () => {
    const { step, gates, gate, settled } = poolOf({ concurrency: 64, admission: { adaptive: false } });
    const first = await gates().enter(step, true, signal());
    await settled();
    const before = (await gate.status()).calls;
    const passes = [];
    for (let i = 0; i < 2; i++) passes.push(await gates().enter(step, true, signal()));
    expect((await gate.status()).calls).toBe(before);
    for (const pass of [first, ...passes]) pass.release(ok);
    await settled();
  });

  it("sends a tenant with its own concurrency limit to the gate, which counts it per tenant", async () => {
    const { step, gates, gate, settled } = poolOf({ concurrency: 64, admission: { adaptive: false } });
    const limited = { tenant: { id: "small", concurrency: 1 } };
    const pass = await gates(limited).enter(step, true, signal());
    await settled();
    expect(await gate.status()).toMatchObject({ lent: 0, tenants: { small: 1 } });
    const refused = await gates(limited)
      .enter(step, false, signal())
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "tenant_concurrency_limit" });
    pass.release(ok);
    await settled();
  });

  it("sends every request to the gate when blocks are off", async () => {
    const { step, gates, gate, settled } = poolOf({
      concurrency: 64,
      admission: { adaptive: false, leaseBlocks: false },
    });
    for (let i = 0; i < 3; i++) (await gates().enter(step, true, signal())).release(ok);
    await settled();
    expect(await gate.status()).toMatchObject({ lent: 0, calls: 6 });
  });
});
