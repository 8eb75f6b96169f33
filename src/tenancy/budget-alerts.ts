import type { Alert } from "../observe/alerts";
import { type CounterAsk, scopeOf, spenderOf } from "./spend";

/** Shares of a dollar budget whose crossing raises an alert, once per budget and window each. */
export const BUDGET_THRESHOLDS = [0.5, 0.8, 1] as const;

/** One dollar counter after a call to its authority. */
export interface DollarReading {
  ask: Pick<CounterAsk, "counter" | "kind" | "window" | "windowEnd" | "limit">;
  used: number;
  /** The authority refused a reservation on it. */
  refused: boolean;
}

/**
 * A refusal with less than this share of the budget left means the budget is spent for ordinary
 * requests: reservations never exceed a limit, so `used` itself may stop short of 100%.
 */
const SPENT_WHEN_LEFT_BELOW = 0.1;

/** The thresholds `reading` has reached. */
export function reachedThresholds(reading: DollarReading): number[] {
  const { used, refused, ask } = reading;
  const spent = refused && ask.limit - used < ask.limit * SPENT_WHEN_LEFT_BELOW;
  const share = spent ? 1 : used / ask.limit;
  return BUDGET_THRESHOLDS.filter((threshold) => share >= threshold - 1e-9);
}

/** The alert for a tenant's (or key's) dollar budget reaching `threshold` in its window. */
export function budgetAlert(tenant: string, reading: DollarReading, threshold: number, now: number): Alert {
  const { ask } = reading;
  const scope = scopeOf(ask.counter);
  const period = ask.kind === "usd-day" ? "daily" : "monthly";
  const { endUser, keyId } = spenderOf(ask.counter);
  const who = endUser
    ? `End user '${endUser}' of tenant '${tenant}'`
    : keyId
      ? `Key '${keyId}' of tenant '${tenant}'`
      : `Tenant '${tenant}'`;
  const percent = Math.round(threshold * 100);
  // A budget changed part-way through a window has thresholds of its own (spend-authority.ts).
  const key = `budget:${tenant}/${ask.counter}/${ask.window}/${ask.limit}/${percent}`;
  return {
    id: key,
    kind: "budget",
    key,
    at: now,
    tenant,
    summary: `${who} has used ${percent}% of its ${period} budget of $${ask.limit}.`,
    details: {
      tenant,
      scope,
      budget: ask.kind,
      threshold: percent,
      limit: ask.limit,
      used: Math.round(reading.used * 1e6) / 1e6,
      resetsAt: new Date(ask.windowEnd).toISOString(),
    },
  };
}
