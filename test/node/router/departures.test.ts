import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStackWithPolicy } from "../../../scripts/stack";
import { configureSim } from "./sim-control";

/**
 * Clients that leave, through real sockets and a real service binding: the router under workerd,
 * the simulator on Node. A departure after the response has started is seen on a direct socket; one
 * before it is seen locally only through a binding (shared/reference/platform-wave2.md §1.3).
 */
const POOL = "edge";
const POLICY = JSON.stringify({
  pools: {
    [POOL]: {
      provider: "deepseek",
      targets: [{ name: "deepseek", baseUrl: "SIM", keySecret: "DEEPSEEK_API_KEY" }],
      models: { "deepseek-v4-flash": "deepseek-v4-flash" },
      capabilities: ["tools", "fim", "thinking", "json"],
      concurrency: 1,
      timeouts: { firstTokenMs: { interactive: 1_000, background: 1_000 } },
      retries: { max: 2, baseMs: 1, capMs: 1, budgetRatio: 1 },
      admission: { adaptive: false },
    },
  },
  routes: { chat: [POOL], code: [POOL], reasoning: [POOL] },
});

interface SimStats {
  requests: number;
  inFlight: number;
  aborted: number;
  completed: number;
}

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStackWithPolicy((simUrl) => POLICY.replace("SIM", simUrl));
}, 120_000);
afterAll(() => stack?.close());

beforeEach(async () => {
  await fetch(`${stack.simUrl}/_sim/reset`, { method: "POST" });
  await waitFor(async () => expect(await pool()).toMatchObject({ inFlight: 0, queued: 0 }), 10_000);
});

async function simStats(): Promise<SimStats> {
  return (await (await fetch(`${stack.simUrl}/_sim/stats`)).json()) as SimStats;
}

async function pool(): Promise<{ inFlight: number; queued: number }> {
  const response = await fetch(`${stack.routerUrl}/v1/router/pools`, { headers: auth() });
  const { data } = (await response.json()) as { data: Array<{ inFlight: number; queued: number }> };
  return data[0] ?? { inFlight: -1, queued: -1 };
}

interface Usage {
  totals: { requests: number; promptTokens: number };
  byOutcome: Record<string, number>;
}

/** The local tenant's ledger, once the router's batched writes have landed. */
async function usage(): Promise<Usage> {
  const response = await fetch(`${stack.routerUrl}/v1/usage`, { headers: auth() });
  return (await response.json()) as Usage;
}

/** Waits until the ledger holds `more` rows beyond `before`, then returns the outcomes they added. */
async function addedOutcomes(before: Usage, more: number): Promise<Record<string, number>> {
  let after = before;
  await waitFor(async () => {
    after = await usage();
    expect(after.totals.requests - before.totals.requests).toBe(more);
  });
  const added: Record<string, number> = {};
  for (const [outcome, n] of Object.entries(after.byOutcome)) {
    const delta = n - (before.byOutcome[outcome] ?? 0);
    if (delta > 0) added[outcome] = delta;
  }
  return added;
}

function auth(): Record<string, string> {
  return { authorization: `Bearer ${stack.routerKey}`, "content-type": "application/json" };
}

function chat(stream: boolean): string {
  return JSON.stringify({
    model: "deepseek-v4-flash",
    messages: [{ role: "user", content: `Tell me a story ${crypto.randomUUID()}` }],
    thinking: { type: "disabled" },
    stream,
  });
}

/** Calls the router through the caller Worker's binding, which abandons the call after `abortMs`. */
async function leaveAfter(abortMs: number, stream: boolean): Promise<void> {
  const response = await fetch(`${stack.callerUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { ...auth(), "x-caller-abort-ms": String(abortMs) },
    body: chat(stream),
  });
  await response.arrayBuffer();
}

/** A raw socket that reads the head and `chunks` body chunks of a streamed answer, then disconnects. */
function readThenLeave(chunks: number, body = chat(true)): Promise<string> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${stack.routerUrl}/v1/chat/completions`);
    const req = httpRequest(url, { method: "POST", headers: auth() }, (res) => {
      let seen = 0;
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (++seen >= chunks) {
          req.destroy();
          resolve(text);
        }
      });
      res.on("error", () => {});
    });
    req.on("error", (error) => (req.destroyed ? undefined : reject(error)));
    req.end(body);
  });
}

/** Holds the pool's only slot with a slow stream until the returned function is called. */
async function holdTheSlot(): Promise<() => Promise<void>> {
  await configureSim(stack.simUrl, { faultScript: [{ kind: "slow", ttftMs: 0, tokensPerS: 5 }] });
  const controller = new AbortController();
  const response = await fetch(`${stack.routerUrl}/v1/chat/completions`, {
    method: "POST",
    headers: auth(),
    body: chat(true),
    signal: controller.signal,
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  await waitFor(async () => expect((await pool()).inFlight).toBe(1));
  return async () => {
    controller.abort();
    await reader.cancel().catch(() => {});
  };
}

async function waitFor(check: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** An aborted call's slot is held 1 s (admission.abortHoldMs) so the upstream can notice the abort. */
const SLOT_FREED_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a client that leaves before the response starts (through a binding)", () => {
  it("non-streamed: the upstream call is aborted within 1 s and the slot is freed", async () => {
    await configureSim(stack.simUrl, { ttftMs: 4_000 });
    const before = await usage();
    await leaveAfter(300, false);
    await waitFor(async () => expect(await simStats()).toMatchObject({ aborted: 1, inFlight: 0 }), 1_000);
    // The slot outlives the abort by the hold that lets the upstream notice it.
    await waitFor(async () => expect((await pool()).inFlight).toBe(0), SLOT_FREED_MS);
    expect((await simStats()).completed).toBe(0);
    expect(await addedOutcomes(before, 1)).toEqual({ cancelled: 1 });
  });

  it("during the pre-first-token hold: no retry is sent for it", async () => {
    await configureSim(stack.simUrl, {
      faultScript: [{ kind: "stallBeforeFirstToken", ms: 4_000, keepAlive: true }],
    });
    const before = await usage();
    await leaveAfter(300, true);
    await waitFor(async () => expect(await simStats()).toMatchObject({ inFlight: 0 }), 1_000);
    // Past the 1 s first-token deadline a retry would have gone out.
    await sleep(1_500);
    expect((await simStats()).requests).toBe(1);
    expect(await pool()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(await addedOutcomes(before, 1)).toEqual({ cancelled: 1 });
  });

  it("while queued: the waiter is withdrawn and never reaches the upstream", async () => {
    const release = await holdTheSlot();
    await leaveAfter(300, false);
    await waitFor(async () => expect((await pool()).queued).toBe(0), 3_000);
    await release();
    await waitFor(async () => expect(await pool()).toMatchObject({ inFlight: 0, queued: 0 }), SLOT_FREED_MS);
    expect((await simStats()).requests).toBe(1);
  });
});

describe("a client that leaves after the response has started (direct socket)", () => {
  it("mid-stream: the upstream call is aborted within 1 s and the slot is freed", async () => {
    await configureSim(stack.simUrl, { tokensPerS: 10 });
    const before = await usage();
    await readThenLeave(2);
    await waitFor(async () => expect(await simStats()).toMatchObject({ aborted: 1, inFlight: 0 }), 1_000);
    await waitFor(async () => expect((await pool()).inFlight).toBe(0), SLOT_FREED_MS);
    expect(await addedOutcomes(before, 1)).toEqual({ cancelled: 1 });
  });

  it("a coalesced leader's client leaving does not cut its follower: the one upstream call runs to its end", async () => {
    await configureSim(stack.simUrl, { tokensPerS: 20, minAnswerTokens: 30, maxAnswerTokens: 30 });
    const before = await usage();
    // Cacheable (temperature 0), so the second identical request follows the first's upstream call.
    const body = JSON.stringify({ ...JSON.parse(chat(true)), temperature: 0 });
    const leaderLeft = readThenLeave(3, body);
    await waitFor(async () => expect((await simStats()).requests).toBe(1));
    const follower = await fetch(`${stack.routerUrl}/v1/chat/completions`, {
      method: "POST",
      headers: auth(),
      body,
    });
    expect(follower.headers.get("x-router-cache")).toBe("COALESCED");
    await leaderLeft;
    const text = await follower.text();
    expect(text).not.toContain('"error"');
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(await simStats()).toMatchObject({ requests: 1, aborted: 0, completed: 1 });
    await waitFor(async () => expect((await pool()).inFlight).toBe(0));
    expect(await addedOutcomes(before, 2)).toEqual({ cancelled: 1, complete: 1 });
  });

  it("a committed, still-queued stream is withdrawn and never reaches the upstream", async () => {
    const release = await holdTheSlot();
    // Queued past the commit point (1 s), the router sends 200 and a keep-alive; the client leaves.
    const head = await readThenLeave(1);
    expect(head).toContain(": keep-alive");
    await waitFor(async () => expect((await pool()).queued).toBe(0), 3_000);
    await release();
    await waitFor(async () => expect(await pool()).toMatchObject({ inFlight: 0, queued: 0 }), SLOT_FREED_MS);
    expect((await simStats()).requests).toBe(1);
  });
});
