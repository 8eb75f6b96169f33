import { describe, expect, it } from "vitest";
import type { CounterAsk, SpendAnswer } from "../../../src/tenancy/spend";
import { IDLE_RETURN_MS, type Need, SpendHolder } from "../../../src/tenancy/spend-holder";

const WINDOW = { counter: "tenant:usd-day", kind: "usd-day", window: 0, windowEnd: 86_400_000 } as const;

/** An authority that grants every ask in full, as the spend authority does well under its limit. */
async function grantAll(asks: CounterAsk[]): Promise<SpendAnswer> {
  return {
    ok: true,
    counters: asks.map((ask) => ({
      counter: ask.counter,
      granted: ask.need + ask.want,
      used: ask.need + ask.want,
    })),
  };
}

describe("an isolate's spend holder", () => {
  it("gives idle spare back under the budget in force now, not the one it was first lent under", async () => {
    const holder = new SpendHolder(0.05);
    const spendUnder = async (limit: number, now: number) => {
      const needs: Need[] = [{ ...WINDOW, limit, amount: 0.01 }];
      const missing = holder.take(needs, now);
      await holder.fill(needs, missing, grantAll);
      holder.settle(needs, [0.01]);
    };
    await spendUnder(1, 1_000);
    await spendUnder(2, 2_000); // the budget was raised
    const returned = holder.returnIfIdle(2_000 + IDLE_RETURN_MS);
    expect(returned?.length).toBe(1);
    expect(returned?.[0]).toMatchObject({ counter: WINDOW.counter, limit: 2, need: 0 });
    expect(returned?.[0]?.give).toBeGreaterThan(0);
  });
});
