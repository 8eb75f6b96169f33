import { describe, expect, it } from "vitest";
import { commitPoint, HOLD_TO_DEADLINE_MS } from "../../../src/proxy/attempt";

const receivedAt = 1_000_000;
const deadlines = {
  receivedAt,
  totalAt: receivedAt + 300_000,
  latency: "interactive" as const,
  commitAfterMs: 10_000,
};

/**
 * When a stream that has no first event yet is committed: the caller gets a status only once the router
 * can no longer do better than an in-band error.
 */
describe("the commit point of a stream waiting for its first event", () => {
  it("waits out an interactive first-token deadline, so a stall there is retried before the caller has a status", () => {
    // Interactive's default first-token deadline, 30 s: a stall is retried or sent to the next step.
    expect(commitPoint(deadlines, receivedAt, receivedAt + 30_000)).toBe(receivedAt + 30_000);
    expect(commitPoint(deadlines, receivedAt, receivedAt + 5_000)).toBe(receivedAt + 5_000);
    // The first attempt starts a little after arrival (auth, classification, admission) and still holds.
    const startedAt = receivedAt + 4;
    expect(commitPoint(deadlines, startedAt, startedAt + 30_000)).toBe(startedAt + 30_000);
    // So does a retry after a quick failure.
    expect(commitPoint(deadlines, receivedAt + 800, receivedAt + 30_800)).toBe(receivedAt + 30_800);
  });

  it("commits after 10 s when the deadline is far (background) or the caller has already waited", () => {
    expect(commitPoint(deadlines, receivedAt, receivedAt + 120_000)).toBe(receivedAt + 10_000);
    // A retry after a 30 s wait: the caller gets keep-alives from 10 s into it, not another silent 30 s.
    const retryAt = receivedAt + HOLD_TO_DEADLINE_MS + 100;
    expect(commitPoint(deadlines, retryAt, retryAt + 30_000)).toBe(retryAt + 10_000);
  });
});
