import { describe, expect, it } from "vitest";
import { targetState } from "../../../src/routing/target-state";
import {
  callWithUpstream,
  chatBody,
  createSim,
  errorOf,
  eventually,
  ledgerEntry,
  readSse,
  type SimInstance,
  SLOW_FIRST,
  singlePoolPolicy,
} from "../helpers";

/** Tight deadlines so stalls are detected in a fraction of a second. */
const FAST_TIMEOUTS = {
  timeouts: {
    firstTokenMs: { interactive: 400, background: 400 },
    idleMs: 400,
    totalMs: { interactive: 5_000, background: 5_000 },
  },
};

interface Run {
  response: Response;
  requestId: string;
}

async function run(
  sim: SimInstance,
  body: Record<string, unknown>,
  pool: Record<string, unknown> = FAST_TIMEOUTS,
): Promise<Run> {
  const requestId = `fault-${crypto.randomUUID()}`;
  const response = await sim.call(
    "/v1/chat/completions",
    {
      // Deterministic, so cacheable: a fault must never leave an entry behind. One prompt per simulator
      // instance keeps tests from answering each other from the cache.
      json: chatBody({
        temperature: 0,
        messages: [{ role: "user", content: `Fault test at ${sim.baseUrl}` }],
        ...body,
      }),
      headers: { "x-request-id": requestId },
    },
    { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, pool) },
  );
  return { response, requestId };
}

/** After any fault: the upstream holds no request for us, and a repeat really goes upstream (nothing wrong was cached). */
async function assertCleanAfter(sim: SimInstance, body: Record<string, unknown>): Promise<void> {
  await eventually(async () => expect((await sim.stats()).inFlight).toBe(0));
  await sim.configure({
    faultScript: [],
    faults: {
      statusRates: { "429": 0, "500": 0, "502": 0, "503": 0, "504": 0 },
      blankBodyRate: 0,
      cutMidStreamRate: 0,
      stallBeforeFirstTokenRate: 0,
      stallMidStreamRate: 0,
    },
  });
  const before = (await sim.stats()).requests;
  const repeat = await run(sim, body);
  await repeat.response.text();
  expect((await sim.stats()).requests).toBe(before + 1);
}

describe("every upstream status, on every attempt", () => {
  it.each([
    [429, 429],
    [500, 502],
    [502, 502],
    [503, 503],
    [504, 502],
  ])(
    "upstream %i → caller %i after the router's retries; nothing billed, leaked or cached",
    async (upstream, expected) => {
      const sim = await createSim({ faults: { statusRates: { [String(upstream)]: 1 } } });
      const { response, requestId } = await run(sim, {});
      expect(response.status).toBe(expected);
      expect((await errorOf(response)).message.length).toBeGreaterThan(0);
      expect((await sim.stats()).requests).toBeGreaterThanOrEqual(2);
      expect(await ledgerEntry(requestId)).toMatchObject({
        outcome: "rejected",
        status: expected,
        costUsd: 0,
      });
      await assertCleanAfter(sim, {});
    },
  );
});

describe("transient faults are absorbed before the first byte", () => {
  it.each([
    ["a 503", { kind: "status", status: 503 }, [false, true]],
    ["a 429", { kind: "status", status: 429 }, [false, true]],
    ["a newline-only 200", { kind: "blankBody" }, [false]],
    // A non-streamed answer arrives whole, so only a stream's first token can be timed.
    ["a first token slower than the deadline", { kind: "slow", ttftMs: 2_000 }, [true]],
    ["a stall before the first token", { kind: "stallBeforeFirstToken", keepAlive: true }, [true]],
  ])("%s is retried and the caller gets a clean answer", async (_, fault, streams) => {
    for (const stream of streams) {
      const sim = await createSim({ faultScript: [fault] });
      const { response, requestId } = await run(sim, { stream });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-router-retries")).toBe("1");
      if (stream) expect((await readSse(response)).at(-1)).toBe("[DONE]");
      else expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
      const entry = await ledgerEntry(requestId);
      expect(entry).toMatchObject({ outcome: "complete", estimated: false });
      await eventually(async () => expect((await sim.stats()).inFlight).toBe(0));
    }
  });

  it("a non-streamed request stalled upstream ends at its total deadline with a 504", async () => {
    const sim = await createSim({ faultScript: [{ kind: "stallBeforeFirstToken", keepAlive: true }] });
    const { response } = await run(
      sim,
      {},
      { timeouts: { ...FAST_TIMEOUTS.timeouts, totalMs: { interactive: 800, background: 800 } } },
    );
    expect(response.status).toBe(504);
    await eventually(async () => expect((await sim.stats()).inFlight).toBe(0));
  });
});

describe("faults after the first byte end the stream with an error event", () => {
  it.each([
    ["a cut mid-stream", { kind: "cutMidStream", afterChunks: 4 }, "incomplete"],
    [
      "a stall mid-stream, with keep-alives still flowing",
      { kind: "stallMidStream", afterChunks: 4, keepAlive: true },
      "stalled",
    ],
    ["a stall mid-stream, silent", { kind: "stallMidStream", afterChunks: 4, keepAlive: false }, "stalled"],
  ])("%s", async (_, fault, words) => {
    const sim = await createSim({ faultScript: [fault] });
    const { response, requestId } = await run(sim, { stream: true });
    expect(response.status).toBe(200);
    const events = await readSse(response);
    expect(events).not.toContain("[DONE]");
    const last = JSON.parse(events.at(-1) ?? "{}") as { error?: { message: string } };
    expect(last.error?.message).toContain(words);
    const entry = await ledgerEntry(requestId);
    expect(entry.outcome).toBe("failed");
    expect(entry.estimated).toBe(true);
    expect(entry.usage.completionTokens).toBeGreaterThan(0);
    await assertCleanAfter(sim, { stream: true });
  });
});

describe("faults that persist", () => {
  it("a stall before the first token on every attempt is a 504 within the deadline", async () => {
    const sim = await createSim({ faults: { stallBeforeFirstTokenRate: 1, stallKeepAlive: true } });
    const { response, requestId } = await run(sim, { stream: true });
    expect(response.status).toBe(504);
    expect((await errorOf(response)).type).toBe("timeout_error");
    expect((await ledgerEntry(requestId)).outcome).toBe("rejected");
    await eventually(async () => {
      const stats = await sim.stats();
      expect(stats.inFlight).toBe(0);
      expect(stats.aborted).toBeGreaterThanOrEqual(1);
    });
  });

  it("a newline-only 200 on every attempt is a 502", async () => {
    const sim = await createSim({ faults: { blankBodyRate: 1 } });
    const { response } = await run(sim, {});
    expect(response.status).toBe(502);
    expect((await errorOf(response)).message).toContain("without an answer");
    await assertCleanAfter(sim, {});
  });

  it("a refused connection is a 502 naming no internals", async () => {
    const requestId = `fault-refused-${crypto.randomUUID()}`;
    const response = await callWithUpstream(
      "http://127.0.0.1:9",
      "/v1/chat/completions",
      { json: chatBody(), headers: { "x-request-id": requestId } },
      { ROUTER_POLICY: singlePoolPolicy("http://127.0.0.1:9", FAST_TIMEOUTS) },
    );
    expect(response.status).toBe(502);
    const error = await errorOf(response);
    expect(error.message).not.toContain("127.0.0.1");
    expect((await ledgerEntry(requestId)).outcome).toBe("rejected");
  });
});

describe("a target recovering from an outage", () => {
  it("serves other requests while its half-open probe is a long stream", async () => {
    // The probe streams for about 3 s (60 tokens at 20/s); the others are instant.
    const sim = await createSim({ ...SLOW_FIRST, ttftMs: 0 });
    const name = `probe-${crypto.randomUUID().slice(0, 8)}`;
    const policy = singlePoolPolicy(sim.baseUrl, {}, name);
    // The outage: five failures, their cool-down already over, so the next request is the probe.
    const breaker = targetState(name, {
      name: "deepseek",
      baseUrl: sim.baseUrl,
      keySecret: "DEEPSEEK_API_KEY",
      weight: 1,
    }).breaker;
    for (let i = 0; i < 5; i++) breaker.onFailure(Date.now() - 60_000);
    expect(breaker.state(Date.now())).toBe("half-open");

    const probe = await sim.call(
      "/v1/chat/completions",
      { json: chatBody({ stream: true }) },
      { ROUTER_POLICY: policy },
    );
    expect(probe.status).toBe(200);
    const reader = probe.body!.getReader();
    await reader.read(); // under way, and far from its end
    const other = await sim.call("/v1/chat/completions", { json: chatBody() }, { ROUTER_POLICY: policy });
    expect(other.status).toBe(200);
    await other.text();
    while (!(await reader.read()).done);
  });

  it("counts a retry only once it is sent: one the breaker stopped is not in the record", async () => {
    const sim = await createSim({ ttftMs: 0, faults: { statusRates: { "503": 1 } } });
    const name = `stop-${crypto.randomUUID().slice(0, 8)}`;
    const policy = singlePoolPolicy(
      sim.baseUrl,
      { retries: { max: 2, baseMs: 10, capMs: 20, budgetRatio: 1 } },
      name,
    );
    const target = { name: "deepseek", baseUrl: sim.baseUrl, keySecret: "DEEPSEEK_API_KEY", weight: 1 };
    // Four failures already: this request's first 503 opens the breaker while its retry waits.
    for (let i = 0; i < 4; i++) targetState(name, target).breaker.onFailure(Date.now());
    const requestId = `stopped-${crypto.randomUUID()}`;
    const response = await sim.call(
      "/v1/chat/completions",
      { json: chatBody(), headers: { "x-request-id": requestId } },
      { ROUTER_POLICY: policy },
    );
    expect(response.status).toBe(503);
    expect((await sim.stats()).requests).toBe(1);
    await eventually(async () => {
      const list = await sim.call(`/v1/requests?request_id=${requestId}`, {}, { ROUTER_POLICY: policy });
      const [record] = (
        (await list.json()) as {
          data: Array<{ retries: number; timeline: Array<{ kind: string; retried?: boolean }> }>;
        }
      ).data;
      expect(record?.retries).toBe(0);
      expect(record?.timeline.filter((e) => e.kind === "attempt")).toEqual([
        expect.not.objectContaining({ retried: true }),
      ]);
    });
  });
});
