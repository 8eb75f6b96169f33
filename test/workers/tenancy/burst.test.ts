import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RouterError } from "../../../src/errors";
import { reserveSpend } from "../../../src/tenancy/enforce";
import type { SpendHolder } from "../../../src/tenancy/spend-holder";
import { awayFromMinuteEdge } from "./support";

/**
 * A burst in one isolate: every request finds the isolate's blocks empty and asks the tenant's
 * authority at once, which lends the first ones spare along with their need. The spare must serve the
 * later ones: a limit of 7 admits 7 of a burst of 30, not 7 less what sat unspent in this isolate.
 */
describe("a burst of concurrent requests in one isolate", () => {
  it.each([3, 7, 20])("admits exactly the limit of %i requests per minute", async (limit) => {
    await awayFromMinuteEdge();
    const tenant = { id: `t-${crypto.randomUUID().slice(0, 8)}`, limits: { requestsPerMinute: limit } };
    const holders = new Map<string, SpendHolder>();
    const pending: Array<Promise<unknown>> = [];
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () =>
        reserveSpend({
          authorities: env.SPEND_AUTHORITY,
          scopes: { tenant },
          classification: { promptTokens: 5, outputTokens: 5, estimatedCostUsd: 0.0001 },
          now: Date.now(),
          waitUntil: (work) => pending.push(work),
          holders,
        }).then(
          () => "admitted",
          (error: unknown) => (error instanceof RouterError ? error.code : String(error)),
        ),
      ),
    );
    while (pending.length > 0) await Promise.all(pending.splice(0));
    expect(outcomes.filter((outcome) => outcome === "admitted")).toHaveLength(limit);
    expect(outcomes.filter((outcome) => outcome === "requests_per_minute_exceeded")).toHaveLength(30 - limit);
  });

  it("admits exactly the tighter of a tenant's and an end user's limits", async () => {
    await awayFromMinuteEdge();
    const tenant = { id: `t-${crypto.randomUUID().slice(0, 8)}`, limits: { requestsPerMinute: 10 } };
    const user = { id: "u_burst", limits: { requestsPerMinute: 7 } };
    const holders = new Map<string, SpendHolder>();
    const pending: Array<Promise<unknown>> = [];
    const admitted = await Promise.all(
      Array.from({ length: 30 }, () =>
        reserveSpend({
          authorities: env.SPEND_AUTHORITY,
          scopes: { tenant, user },
          classification: { promptTokens: 5, outputTokens: 5, estimatedCostUsd: 0.0001 },
          now: Date.now(),
          waitUntil: (work) => pending.push(work),
          holders,
        }).then(
          () => true,
          () => false,
        ),
      ),
    );
    while (pending.length > 0) await Promise.all(pending.splice(0));
    expect(admitted.filter(Boolean)).toHaveLength(7);
  });
});
