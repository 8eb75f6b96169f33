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

  it("tells a spent budget from one held by requests in flight, however many ask at once", async () => {
    const limit = 0.0005;
    const amount = 0.000122;
    /** An exact authority (no spare lent) whose count starts at `used`. */
    const authority =
      (used: number) =>
      async (asks: CounterAsk[]): Promise<SpendAnswer> => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const { counter, kind, need } = asks[0] as CounterAsk;
        if (used + need > limit)
          return { ok: false, counters: [{ counter, granted: 0, used }], refused: { counter, kind, limit } };
        used += need;
        return { ok: true, counters: [{ counter, granted: need, used }] };
      };
    const ask = (holder: SpendHolder, lend: ReturnType<typeof authority>, now: number) => {
      const needs: Need[] = [{ ...WINDOW, limit, amount }];
      // Judged as the router judges a refusal: at once, while the others may still be asking.
      return holder.fill(needs, holder.take(needs, now), lend).then((answer) => ({
        answer,
        held: holder.refusedForReservations(needs[0] as Need, 0),
      }));
    };

    // $0.000012 left: ten at once are each refused as spent, whatever the others reserve meanwhile.
    const spent = new SpendHolder(0.05);
    const nearlySpent = authority(0.000488);
    for (const { answer, held } of await Promise.all(
      Array.from({ length: 10 }, () => ask(spent, nearlySpent, 1_000)),
    )) {
      expect(answer.ok).toBe(false);
      expect(held).toBe(false);
    }
    // $0.0002 left, $0.000122 of it held by a request still running: the next fits once that one ends.
    const held = new SpendHolder(0.05);
    const halfSpent = authority(0.0003);
    expect((await ask(held, halfSpent, 1_000)).answer.ok).toBe(true);
    const next = await ask(held, halfSpent, 1_000);
    expect(next.answer.ok).toBe(false);
    expect(next.held).toBe(true);
  });
});
