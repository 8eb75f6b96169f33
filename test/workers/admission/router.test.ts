import { describe, expect, it } from "vitest";
import type { PoolView } from "../../../src/admission/status";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import {
  type CallInit,
  chatBody,
  createSim,
  errorOf,
  eventually,
  readSse,
  type SimInstance,
  SLOW_FIRST,
  singlePoolPolicy,
} from "../helpers";

const CHAT = "/v1/chat/completions";

/** One pool of its own (a fresh gate), `concurrency` slots, no retries so every upstream status shows. */
function policyFor(sim: SimInstance, concurrency: number, admission: Record<string, unknown> = {}): string {
  return singlePoolPolicy(sim.baseUrl, {
    concurrency,
    retries: { max: 0 },
    admission: { adaptive: false, ...admission },
  });
}

function call(sim: SimInstance, policy: string, init: CallInit = {}, vars: Record<string, string> = {}) {
  return sim.call(CHAT, { json: chatBody(), ...init }, { ROUTER_POLICY: policy, ...vars });
}

function stream(sim: SimInstance, policy: string, init: CallInit = {}, vars: Record<string, string> = {}) {
  return call(sim, policy, { json: chatBody({ stream: true }), ...init }, vars);
}

async function pool(sim: SimInstance, policy: string, vars: Record<string, string> = {}): Promise<PoolView> {
  const response = await sim.call("/v1/router/pools", {}, { ROUTER_POLICY: policy, ...vars });
  expect(response.status).toBe(200);
  const { data } = (await response.json()) as { data: PoolView[] };
  return data[0] as PoolView;
}

/** A stream that holds its slot until `cancel`: the simulator's first answer is slow. */
async function holdSlot(sim: SimInstance, policy: string, vars: Record<string, string> = {}) {
  const response = await stream(sim, policy, {}, vars);
  expect(response.status).toBe(200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  return {
    cancel: () => reader.cancel(),
    /** Reads the rest, so the answer runs to its end and frees the slot by itself. */
    drain: async () => {
      while (!(await reader.read()).done);
    },
  };
}

async function digest(key: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("concurrency stays under the ceiling", () => {
  it("a burst of streams never exceeds the limit: zero upstream 429s, simulator peak ≤ limit", async () => {
    const LIMIT = 4;
    const sim = await createSim({ concurrency: LIMIT, overload: "reject429", ttftMs: 20, tokensPerS: 400 });
    const policy = policyFor(sim, LIMIT);
    const responses = await Promise.all(Array.from({ length: 24 }, () => stream(sim, policy)));
    const bodies = await Promise.all(responses.map((r) => readSse(r)));
    expect(responses.map((r) => r.status)).toEqual(Array(24).fill(200));
    for (const events of bodies) {
      expect(events.at(-1)).toBe("[DONE]");
      expect(events.some((e) => e.startsWith('{"error"'))).toBe(false);
    }
    const stats = await sim.stats();
    expect(stats.rejected429).toBe(0);
    expect(stats.peakInFlight).toBeLessThanOrEqual(LIMIT);
    expect(stats.peakInFlight).toBeGreaterThan(1);
    expect(stats.completed).toBe(24);
    expect(responses.some((r) => Number(r.headers.get("x-router-queue-ms")) > 0)).toBe(true);
    await eventually(async () => expect(await pool(sim, policy)).toMatchObject({ inFlight: 0, queued: 0 }));
  });

  it("sends a request to the plan's next pool at once when the first is full, instead of queueing", async () => {
    const sim = await createSim(SLOW_FIRST);
    const base = JSON.parse(singlePoolPolicy(sim.baseUrl, { concurrency: 1 }, "busy-first")) as {
      pools: Record<string, Record<string, unknown>>;
    };
    const spare = { ...base.pools["busy-first"], concurrency: 4 };
    const name = crypto.randomUUID().slice(0, 8);
    const policy = JSON.stringify({
      pools: { [`first-${name}`]: base.pools["busy-first"], [`spare-${name}`]: spare },
      routes: {
        chat: [`first-${name}`, `spare-${name}`],
        code: [`first-${name}`],
        reasoning: [`first-${name}`],
      },
    });
    const holder = await holdSlot(sim, policy);
    const response = await call(sim, policy);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-pool")).toBe(`spare-${name}`);
    expect(Number(response.headers.get("x-router-queue-ms"))).toBeLessThan(1_000);
    await holder.cancel();
  });
});

describe("shedding", () => {
  it("answers 429 queue_timeout with Retry-After when the wait the request allows runs out", async () => {
    const sim = await createSim(SLOW_FIRST);
    const policy = policyFor(sim, 1);
    const holder = await holdSlot(sim, policy);
    const response = await call(sim, policy, { headers: { "x-router-max-wait-ms": "200" } });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(response.headers.get("retry-after-ms"))).toBeGreaterThan(0);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "rate_limit_error", code: "queue_timeout", param: null });
    expect(error.message).toContain("200 ms");

    // A stream shed before the commit point gets the same real 429, not a 200.
    const streamed = await stream(sim, policy, { headers: { "x-router-max-wait-ms": "0" } });
    expect(streamed.status).toBe(429);
    expect((await errorOf(streamed)).code).toBe("pool_saturated");
    await holder.cancel();
  });

  it("commits a stream still queued after a second, sends keep-alives, and tells a later shed in-band", async () => {
    const sim = await createSim(SLOW_FIRST);
    const policy = policyFor(sim, 1);
    const holder = await holdSlot(sim, policy);
    const response = await stream(sim, policy, { headers: { "x-router-max-wait-ms": "1500" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(Number(response.headers.get("x-router-queue-ms"))).toBeGreaterThanOrEqual(900);
    const text = await response.text();
    expect(text.startsWith(": keep-alive\n\n")).toBe(true);
    const events = text.split("\n\n").filter((block) => block.startsWith("data: "));
    expect(events).toHaveLength(1);
    expect(JSON.parse((events[0] as string).slice(6))).toMatchObject({
      error: { code: "queue_timeout", type: "rate_limit_error" },
    });
    await holder.cancel();
  });

  it("serves a committed stream once a slot frees: keep-alives first, then the whole answer", async () => {
    const sim = await createSim({ ...SLOW_FIRST, faultScript: [{ kind: "slow", tokensPerS: 40 }] });
    const policy = policyFor(sim, 1);
    const holder = await holdSlot(sim, policy);
    const [response] = await Promise.all([stream(sim, policy), holder.drain()]);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text.startsWith(": keep-alive\n\n")).toBe(true);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect((await sim.stats()).completed).toBe(2);
  });

  it("enforces the tenant's concurrency limit while other tenants still get slots", async () => {
    const sim = await createSim(SLOW_FIRST);
    const policy = policyFor(sim, 4);
    const tenants = JSON.stringify([
      { id: "acme", keys: [await digest(ACME_KEY)], concurrency: 1 },
      { id: "globex", keys: [await digest(GLOBEX_KEY)] },
    ]);
    const vars = { ROUTER_TENANTS: tenants };
    const holder = await holdSlot(sim, policy, vars);
    const refused = await call(sim, policy, { headers: { "x-router-max-wait-ms": "0" } }, vars);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    const error = await errorOf(refused);
    expect(error.code).toBe("tenant_concurrency_limit");
    expect(error.message).toContain("acme");
    const waitedOut = await call(sim, policy, { headers: { "x-router-max-wait-ms": "150" } }, vars);
    expect((await errorOf(waitedOut)).code).toBe("tenant_concurrency_limit");
    expect((await call(sim, policy, { key: GLOBEX_KEY }, vars)).status).toBe(200);
    await holder.cancel();
  });

  it("rejects a malformed x-router-max-wait-ms with 400 naming the header", async () => {
    const sim = await createSim();
    const response = await call(sim, policyFor(sim, 1), { headers: { "x-router-max-wait-ms": "soon" } });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ param: "x-router-max-wait-ms", code: "invalid_request" });
    expect((await sim.stats()).requests).toBe(0);
  });
});

describe("priority", () => {
  it("gives a freed slot to a high-priority request that arrived after a low one", async () => {
    const sim = await createSim(SLOW_FIRST);
    const policy = policyFor(sim, 1);
    const holder = await holdSlot(sim, policy);
    const finished: string[] = [];
    const low = call(sim, policy, { headers: { "x-router-priority": "low" } }).then(async (r) => {
      await r.text();
      finished.push("low");
      return r;
    });
    await eventually(async () => expect((await pool(sim, policy)).queued).toBe(1));
    const high = call(sim, policy, { headers: { "x-router-priority": "high" } }).then(async (r) => {
      await r.text();
      finished.push("high");
      return r;
    });
    await eventually(async () => expect((await pool(sim, policy)).queued).toBe(2));
    await holder.cancel();
    const [lowResponse, highResponse] = await Promise.all([low, high]);
    expect([lowResponse.status, highResponse.status]).toEqual([200, 200]);
    expect(finished).toEqual(["high", "low"]);
    expect(Number(highResponse.headers.get("x-router-queue-ms"))).toBeLessThan(
      Number(lowResponse.headers.get("x-router-queue-ms")),
    );
  });
});

describe("releases", () => {
  it("frees the slot when the client disconnects mid-stream", async () => {
    const sim = await createSim(SLOW_FIRST);
    const policy = policyFor(sim, 1);
    const abort = new AbortController();
    const response = await stream(sim, policy, { signal: abort.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    expect((await pool(sim, policy)).inFlight).toBe(1);
    abort.abort();
    await reader.cancel().catch(() => {});
    await eventually(async () => expect((await pool(sim, policy)).inFlight).toBe(0));
    expect((await call(sim, policy, { headers: { "x-router-max-wait-ms": "0" } })).status).toBe(200);
  });

  it("withdraws a queued request whose client disconnected: it never takes a slot", async () => {
    const sim = await createSim(SLOW_FIRST);
    const policy = policyFor(sim, 1);
    const holder = await holdSlot(sim, policy);
    const abort = new AbortController();
    const queued = call(sim, policy, { signal: abort.signal }).catch((error: unknown) => error);
    await eventually(async () => expect((await pool(sim, policy)).queued).toBe(1));
    abort.abort();
    await queued;
    await eventually(async () => expect((await pool(sim, policy)).queued).toBe(0));
    await holder.cancel();
    await eventually(async () => expect((await pool(sim, policy)).inFlight).toBe(0));
    expect((await sim.stats()).requests).toBe(1);
  });

  it("frees the slot when the upstream fails", async () => {
    const sim = await createSim({ faultScript: [{ kind: "status", status: 500 }] });
    const policy = policyFor(sim, 1);
    expect((await call(sim, policy)).status).toBe(502);
    await eventually(async () => expect((await pool(sim, policy)).inFlight).toBe(0));
    expect((await call(sim, policy, { headers: { "x-router-max-wait-ms": "0" } })).status).toBe(200);
  });
});

describe("GET /v1/router/pools", () => {
  it("needs a router key, and lists every pool with its ceiling, limit and load", async () => {
    const sim = await createSim();
    const policy = policyFor(sim, 6, { shards: 2 });
    const anonymous = await sim.call("/v1/router/pools", { key: null }, { ROUTER_POLICY: policy });
    expect(anonymous.status).toBe(401);
    const view = await pool(sim, policy);
    expect(view).toMatchObject({ ceiling: 6, limit: 6, inFlight: 0, queued: 0, adaptive: false });
    expect(view.shards.map((g) => [g.gate.split("#")[1], g.ceiling])).toEqual([
      ["0", 3],
      ["1", 3],
    ]);
  });
});

describe("adaptive limit", () => {
  it("does not eject a target for upstream 429s: the limit adapts instead of the router answering 503", async () => {
    const tooMany = Array.from({ length: 6 }, () => ({ kind: "status", status: 429 }));
    const sim = await createSim({ faultScript: tooMany });
    const policy = policyFor(sim, 4, { adaptive: true });
    for (let i = 0; i < 6; i++) expect((await call(sim, policy)).status).toBe(429);
    const after = await call(sim, policy);
    expect(after.status).toBe(200);
    expect((await pool(sim, policy)).limit).toBeLessThan(4);
  });

  it("shrinks on injected upstream 429s, is visible on /v1/router/pools, and recovers", async () => {
    const sim = await createSim({ faultScript: [{ kind: "status", status: 429 }], ttftMs: 30 });
    const policy = policyFor(sim, 4, { adaptive: true });
    expect((await call(sim, policy)).status).toBe(429);
    await eventually(async () => expect(await pool(sim, policy)).toMatchObject({ ceiling: 4, limit: 3 }));
    for (let wave = 0; wave < 6 && (await pool(sim, policy)).limit < 4; wave++) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => stream(sim, policy)));
      await Promise.all(answers.map((r) => r.text()));
      await eventually(async () => expect((await pool(sim, policy)).inFlight).toBe(0));
    }
    expect(await pool(sim, policy)).toMatchObject({ ceiling: 4, limit: 4, adaptive: true });
  });
});
