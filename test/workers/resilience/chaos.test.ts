import { describe, expect, it } from "vitest";
import type { PoolView } from "../../../src/admission/status";
import { chatBody, createSim, eventually, type SimInstance, singlePoolPolicy } from "../helpers";

const CEILING = 3;
const REQUESTS = 48;
const IN_FLIGHT = 8;

/** The estimator's stated worst error on prompts (docs/ARCHITECTURE.md, classification). */
const ESTIMATOR_ERROR = 0.2;

interface Usage {
  totals: { requests: number; promptTokens: number };
}

/** A seeded generator, so a failure replays the same storm. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

async function usage(sim: SimInstance, policy: string): Promise<Usage> {
  return (await (await sim.call("/v1/usage", {}, { ROUTER_POLICY: policy })).json()) as Usage;
}

async function pool(sim: SimInstance, policy: string): Promise<PoolView> {
  const response = await sim.call("/v1/router/pools", {}, { ROUTER_POLICY: policy });
  return ((await response.json()) as { data: PoolView[] }).data[0] as PoolView;
}

/** One caller: streamed or not, and perhaps leaving at a random moment, reading whatever it gets. */
async function caller(sim: SimInstance, policy: string, random: () => number, i: number): Promise<void> {
  const controller = new AbortController();
  const leaveAfter = random() < 0.35 ? Math.floor(random() * 400) : undefined;
  const timer = leaveAfter === undefined ? undefined : setTimeout(() => controller.abort(), leaveAfter);
  try {
    const response = await sim.call(
      "/v1/chat/completions",
      {
        json: chatBody({
          stream: random() < 0.5,
          messages: [{ role: "user", content: `Storm ${i}: tell a tale.` }],
        }),
        signal: controller.signal,
      },
      { ROUTER_POLICY: policy },
    );
    await response.text();
  } catch {
    // A caller that left sees its own abort.
  } finally {
    clearTimeout(timer);
  }
}

describe("chaos: client aborts, upstream cuts and stalls, at a low ceiling", () => {
  it("leaves nothing held or queued, never exceeds the ceiling upstream, and books what the upstream counted", async () => {
    const sim = await createSim({
      concurrency: CEILING,
      overload: "reject429",
      ttftMs: 30,
      tokensPerS: 300,
      minAnswerTokens: 20,
      maxAnswerTokens: 60,
      seed: 7,
      faults: {
        cutMidStreamRate: 0.15,
        stallBeforeFirstTokenRate: 0.1,
        stallMidStreamRate: 0.1,
        stallMs: 600,
        stallKeepAlive: true,
      },
    });
    const policy = singlePoolPolicy(sim.baseUrl, {
      concurrency: CEILING,
      timeouts: {
        firstTokenMs: { interactive: 300, background: 300 },
        idleMs: 300,
        totalMs: { interactive: 5_000, background: 5_000 },
      },
      retries: { max: 1, baseMs: 10, capMs: 50, budgetRatio: 0.5 },
      // The simulator shares this machine with the whole suite, so it can take far longer than a real
      // upstream's round trip to notice an abort: the hold covers that (3 s was once short with the
      // suite and other work running on two cores).
      admission: {
        adaptive: false,
        maxWaitMs: { interactive: 10_000, background: 10_000 },
        abortHoldMs: 5_000,
      },
    });
    const before = await usage(sim, policy);
    const random = seeded(42);
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) await caller(sim, policy, random, next++);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

    await eventually(
      async () => expect(await pool(sim, policy)).toMatchObject({ inFlight: 0, queued: 0 }),
      10_000,
    );
    await eventually(async () => expect((await sim.stats()).inFlight).toBe(0));
    const upstream = await sim.stats();
    // The ceiling holds as the upstream counts it: never more at once, and never a 429 for it.
    expect({ peak: Math.min(upstream.peakInFlight, CEILING), rejected429: upstream.rejected429 }).toEqual({
      peak: upstream.peakInFlight,
      rejected429: 0,
    });

    let booked = before;
    await eventually(async () => {
      booked = await usage(sim, policy);
      expect(booked.totals.requests - before.totals.requests).toBe(REQUESTS);
    }, 10_000);
    const bookedPrompt = booked.totals.promptTokens - before.totals.promptTokens;
    expect(upstream.promptTokens).toBeGreaterThan(0);
    expect(Math.abs(bookedPrompt - upstream.promptTokens) / upstream.promptTokens).toBeLessThanOrEqual(
      ESTIMATOR_ERROR,
    );
  }, 120_000);
});
