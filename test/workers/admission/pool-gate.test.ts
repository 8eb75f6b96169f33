import {
  abortAllDurableObjects,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { PoolGate } from "../../../src/admission/pool-gate";
import type { AcquireRequest, GateLimits } from "../../../src/admission/types";

const LIMITS: GateLimits = { ceiling: 2, maxQueue: 10, leaseTtlMs: 60_000, adaptive: false };

/** A gate of its own: tests in a file share storage. */
function freshGate(): DurableObjectStub<PoolGate> {
  return env.POOL_GATE.getByName(`test-${crypto.randomUUID()}#0`);
}

function ask(fields: Partial<AcquireRequest> = {}, limits: Partial<GateLimits> = {}): AcquireRequest {
  return {
    leaseId: crypto.randomUUID(),
    tenant: "acme",
    priority: "normal",
    latency: "interactive",
    waitMs: 5_000,
    ...fields,
    limits: { ...LIMITS, ...limits },
  };
}

const ok = { kind: "success" as const, status: 200 };

/** Issues acquires whose answers are recorded in the order they arrive. */
function queueUp(gate: DurableObjectStub<PoolGate>, requests: AcquireRequest[], order: string[]) {
  return requests.map((request) =>
    gate.acquire(request).then((result) => {
      order.push(request.leaseId);
      return result;
    }),
  );
}

describe("leases", () => {
  it("grants up to the limit, then sheds a request that may not wait, saying why and when to retry", async () => {
    const gate = freshGate();
    expect(await gate.acquire(ask())).toMatchObject({ granted: true, load: { inFlight: 1, limit: 2 } });
    expect(await gate.acquire(ask())).toMatchObject({ granted: true, load: { inFlight: 2 } });
    const shed = await gate.acquire(ask({ waitMs: 0 }));
    expect(shed).toMatchObject({ granted: false, reason: "pool_saturated" });
    expect(shed.granted === false && shed.retryAfterMs).toBeGreaterThan(0);
  });

  it("hands a waiter the slot a release frees, and releases exactly once", async () => {
    const gate = freshGate();
    const first = ask();
    await gate.acquire(first);
    await gate.acquire(ask());
    const waiting = gate.acquire(ask());
    expect((await gate.status()).queued).toBe(1);
    await gate.release(first.leaseId, ok);
    expect(await waiting).toMatchObject({ granted: true, load: { inFlight: 2, queued: 0 } });
    // A second release of the same lease frees nothing more.
    expect(await gate.release(first.leaseId, ok)).toMatchObject({ inFlight: 2 });
  });

  it("answers a queued request with queue_timeout when its wait runs out", async () => {
    const gate = freshGate();
    await gate.acquire(ask());
    await gate.acquire(ask());
    const result = await gate.acquire(ask({ waitMs: 50 }));
    expect(result).toMatchObject({ granted: false, reason: "queue_timeout" });
    expect((await gate.status()).queued).toBe(0);
  });

  it("withdraws a waiter whose caller left, and refuses a late acquire for a released id", async () => {
    const gate = freshGate();
    await gate.acquire(ask());
    await gate.acquire(ask());
    const leaving = ask();
    const waiting = gate.acquire(leaving);
    await gate.status();
    await gate.release(leaving.leaseId, { kind: "abandoned" });
    expect(await waiting).toMatchObject({ granted: false });
    expect(await gate.status()).toMatchObject({ queued: 0, inFlight: 2 });
    expect(await gate.acquire(leaving)).toMatchObject({ granted: false });
  });

  it("enforces the tenant's own limit and lets other tenants use the rest", async () => {
    const gate = freshGate();
    const limits = { ceiling: 4 };
    await gate.acquire(ask({ tenant: "small", tenantLimit: 1 }, limits));
    const refused = await gate.acquire(ask({ tenant: "small", tenantLimit: 1, waitMs: 0 }, limits));
    expect(refused).toMatchObject({ granted: false, reason: "tenant_concurrency_limit" });
    expect(await gate.acquire(ask({ tenant: "other" }, limits))).toMatchObject({ granted: true });
    expect((await gate.status()).tenants).toEqual({ small: 1, other: 1 });
  });

  it("tells a tenant shed in a burst to come back once its slots have turned over, not once the queue has drained", async () => {
    const gate = freshGate();
    const limits = { ceiling: 8, maxQueue: 100 };
    const mine = (fields: Partial<AcquireRequest> = {}) =>
      ask({ tenant: "bursty", tenantLimit: 4, ...fields }, limits);
    const held = [mine(), mine(), mine(), mine()];
    for (const request of held) await gate.acquire(request);
    await gate.release(held[0]?.leaseId ?? "", ok); // the drain is measured: one slot a second
    await gate.acquire(mine());
    // Forty more queue for the tenant's four slots; most of them will be shed at the end of their wait.
    const queued = Array.from({ length: 40 }, () => gate.acquire(mine({ waitMs: 300 })));
    const shed = await gate.acquire(mine({ waitMs: 0 }));
    expect(shed).toMatchObject({ granted: false, reason: "tenant_concurrency_limit" });
    // Four slots ahead at a slot a second: about 5 s, where the whole queue once made it 41 s.
    expect(shed.granted === false && shed.retryAfterMs).toBeLessThanOrEqual(5_000);
    await Promise.all(queued);
  });

  it("sheds the least important waiter when the queue is full", async () => {
    const gate = freshGate();
    const limits = { ceiling: 1, maxQueue: 2 };
    const holder = ask({}, limits);
    await gate.acquire(holder);
    const low = gate.acquire(ask({ priority: "low", latency: "background" }, limits));
    const normal = ask({}, limits);
    const normalAnswer = gate.acquire(normal);
    const highAnswer = gate.acquire(ask({ priority: "high" }, limits));
    expect(await low).toMatchObject({ granted: false, reason: "pool_saturated" });
    const lowAgain = await gate.acquire(ask({ priority: "low" }, limits));
    expect(lowAgain).toMatchObject({ granted: false, reason: "pool_saturated" });
    expect((await gate.status()).queuedBy).toEqual({ high: 1, normal: 1, low: 0 });
    await gate.release(holder.leaseId, ok);
    expect(await highAnswer).toMatchObject({ granted: true });
    expect((await gate.status()).queued).toBe(1);
    await gate.release(normal.leaseId, { kind: "abandoned" });
    expect(await normalAnswer).toMatchObject({ granted: false });
  });
});

describe("queue order", () => {
  it("serves high before normal before low, whatever the arrival order", async () => {
    const gate = freshGate();
    const limits = { ceiling: 1 };
    const holder = ask({}, limits);
    await gate.acquire(holder);
    const order: string[] = [];
    const low = ask({ priority: "low" }, limits);
    const normal = ask({ priority: "normal" }, limits);
    const high = ask({ priority: "high" }, limits);
    const answers = queueUp(gate, [low, normal, high], order);
    expect((await gate.status()).queuedBy).toEqual({ high: 1, normal: 1, low: 1 });
    let previous = holder.leaseId;
    for (const [i, next] of [high, normal, low].entries()) {
      await gate.release(previous, ok);
      await vi.waitFor(() => expect(order.length).toBe(i + 1));
      expect(order[i]).toBe(next.leaseId);
      previous = next.leaseId;
    }
    expect((await Promise.all(answers)).every((a) => a.granted)).toBe(true);
  });

  it("shares slots fairly between two tenants: the one holding fewer goes first", async () => {
    const gate = freshGate();
    const noisy = Array.from({ length: 5 }, () => ask({ tenant: "noisy" }));
    const quiet = Array.from({ length: 2 }, () => ask({ tenant: "quiet" }));
    const held = noisy.slice(0, 2).map((r) => r.leaseId);
    for (const request of noisy.slice(0, 2)) await gate.acquire(request);
    const order: string[] = [];
    // Arrival order: noisy ×3, then quiet ×2. First come first served would serve quiet last.
    const answers = queueUp(gate, [...noisy.slice(2), ...quiet], order);
    expect((await gate.status()).queued).toBe(5);
    for (let i = 0; i < 5; i++) {
      await gate.release(held.shift() as string, ok);
      await vi.waitFor(() => expect(order.length).toBe(i + 1));
      held.push(order[i] as string);
    }
    await Promise.all(answers);
    const tenantOf = new Map([...noisy, ...quiet].map((r) => [r.leaseId, r.tenant]));
    expect(order.map((id) => tenantOf.get(id))).toEqual(["quiet", "noisy", "quiet", "noisy", "noisy"]);
  });
});

describe("expiry and eviction", () => {
  it("sweeps a lease whose Worker stopped renewing it, through the alarm, and serves the queue", async () => {
    const gate = freshGate();
    const limits = { ceiling: 1, leaseTtlMs: 200 };
    const dead = ask({}, limits);
    await gate.acquire(dead);
    const waiting = gate.acquire(ask({ waitMs: 10_000 }, limits));
    await gate.status();
    await new Promise((resolve) => setTimeout(resolve, 250));
    // The alarm may already have fired on its own; running it again is harmless.
    await runDurableObjectAlarm(gate);
    expect(await waiting).toMatchObject({ granted: true, load: { inFlight: 1 } });
    expect(await gate.status()).toMatchObject({ inFlight: 1, expired: 1 });
    await runInDurableObject(gate, (_instance, state) => {
      const ids = state.storage.sql.exec<{ id: string }>("SELECT id FROM leases").toArray();
      expect(ids.map((row) => row.id)).not.toContain(dead.leaseId);
    });
  });

  it("keeps a renewed lease, and re-registers one it had lost so the count matches reality", async () => {
    const gate = freshGate();
    const limits = { ceiling: 1, leaseTtlMs: 150 };
    const live = ask({}, limits);
    await gate.acquire(live);
    const ref = { leaseId: live.leaseId, tenant: live.tenant, priority: live.priority };
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await gate.renew(ref, 150)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await runDurableObjectAlarm(gate);
    expect((await gate.status()).inFlight).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await runDurableObjectAlarm(gate);
    expect((await gate.status()).inFlight).toBe(0);
    expect(await gate.renew(ref, 60_000)).toBe(false);
    expect((await gate.status()).inFlight).toBe(1);
    await gate.release(live.leaseId, ok);
    expect(await gate.renew(ref, 60_000)).toBe(false);
    expect((await gate.status()).inFlight).toBe(0);
  });

  it("recovers every lease after eviction: no capacity lost, nothing granted twice", async () => {
    const gate = freshGate();
    const a = ask();
    const b = ask();
    await gate.acquire(a);
    await gate.acquire(b);

    await evictDurableObject(gate);
    const after = env.POOL_GATE.get(gate.id);
    expect(await after.status()).toMatchObject({ inFlight: 2, ceiling: 2, queued: 0, tenants: { acme: 2 } });
    // A retried acquire with a granted id gets its lease back, not a second slot.
    expect(await after.acquire(a)).toMatchObject({ granted: true, load: { inFlight: 2 } });
    expect(await after.acquire(ask({ waitMs: 0 }))).toMatchObject({
      granted: false,
      reason: "pool_saturated",
    });
    await after.release(a.leaseId, ok);
    expect(await after.acquire(ask({ waitMs: 0 }))).toMatchObject({ granted: true, load: { inFlight: 2 } });
  });

  it("fails a waiter's call when the object crashes, and the restarted gate holds what it had granted", async () => {
    const gate = freshGate();
    await gate.acquire(ask());
    await gate.acquire(ask());
    const waiter = gate.acquire(ask({ waitMs: 10_000 })).then(
      (result) => result,
      (error: unknown) => error,
    );
    expect((await gate.status()).queued).toBe(1);

    await abortAllDurableObjects();
    // The waiter lived only in memory: its call fails, and the Worker never takes that for a lease.
    expect(await waiter).toBeInstanceOf(Error);
    expect(await env.POOL_GATE.get(gate.id).status()).toMatchObject({ inFlight: 2, queued: 0 });
  });
});

describe("adaptive limit", () => {
  it("shrinks on upstream 429s, shows it, keeps it through eviction, and grows back while answers succeed", async () => {
    const gate = freshGate();
    const limits = { ceiling: 8, adaptive: true, maxQueue: 0 };
    const first = ask({}, limits);
    await gate.acquire(first);
    await gate.release(first.leaseId, { kind: "failure", status: 429 });
    expect(await gate.status()).toMatchObject({ limit: 7, ceiling: 8, adaptive: true });
    // The learned limit is stored: an evicted gate comes back with it.
    await evictDurableObject(gate);
    const after = env.POOL_GATE.get(gate.id);
    expect((await after.status()).limit).toBe(7);

    let rounds = 0;
    while ((await after.status()).limit < 8 && rounds < 20) {
      const batch: AcquireRequest[] = [];
      for (;;) {
        const request = ask({ waitMs: 0 }, limits);
        if (!(await after.acquire(request)).granted) break;
        batch.push(request);
      }
      expect(batch.length).toBeLessThanOrEqual(8);
      for (const request of batch) await after.release(request.leaseId, { ...ok, latencyMs: 100 });
      rounds++;
    }
    expect((await after.status()).limit).toBe(8);
    expect(rounds).toBeGreaterThan(1);
  });

  it("keeps a static limit when adaptation is off", async () => {
    const gate = freshGate();
    const request = ask({}, { ceiling: 8 });
    await gate.acquire(request);
    await gate.release(request.leaseId, { kind: "failure", status: 429 });
    expect((await gate.status()).limit).toBe(8);
  });
});
