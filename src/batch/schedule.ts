import { ratesAt } from "../classify/price";
import type { PricePeriod } from "../config/prices";

export const SCHEDULES = ["off-peak", "now"] as const;
export type Schedule = (typeof SCHEDULES)[number];

const HOUR_MS = 3_600_000;
/** Peak windows and weekends start and end on whole UTC hours; a week covers every weekly pattern. */
const SEARCH_HOURS = 8 * 24;
/** Time a batch is allowed to run, once started: an hour, plus a second per line. Deliberately generous. */
const RUN_BASE_MS = HOUR_MS;
const RUN_PER_LINE_MS = 1_000;

export interface StartPlan {
  /** When the batch's lines are sent to the queue. */
  startAt: number;
  /** Why then, for the batch object. */
  reason: "requested_now" | "off_peak_now" | "next_off_peak" | "window_too_short" | "no_off_peak";
}

/**
 * The first moment at or after `now` when none of `tables` is at its peak price (every model the
 * batch may be served by), or undefined if there is none within a week.
 */
export function nextOffPeak(tables: ReadonlyArray<readonly PricePeriod[]>, now: number): number | undefined {
  const offPeakAt = (t: number) => tables.every((periods) => ratesAt(periods, t)?.peak !== true);
  if (offPeakAt(now)) return now;
  const boundaries = new Set<number>();
  const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS;
  for (let h = 0; h < SEARCH_HOURS; h++) boundaries.add(firstHour + h * HOUR_MS);
  // A new price period may start between hours.
  for (const periods of tables)
    for (const period of periods) {
      const from = Date.parse(period.from);
      if (from > now && from < firstHour + SEARCH_HOURS * HOUR_MS) boundaries.add(from);
    }
  return [...boundaries].sort((a, b) => a - b).find(offPeakAt);
}

/**
 * When a batch starts. Pure. "now" starts at once; "off-peak" waits for the next off-peak moment of
 * its models' price tables, unless the batch could then no longer finish within its window.
 */
export function planStart(input: {
  schedule: Schedule;
  tables: ReadonlyArray<readonly PricePeriod[]>;
  lineCount: number;
  now: number;
  expiresAt: number;
}): StartPlan {
  const { now } = input;
  if (input.schedule === "now") return { startAt: now, reason: "requested_now" };
  const offPeak = nextOffPeak(input.tables, now);
  if (offPeak === undefined) return { startAt: now, reason: "no_off_peak" };
  if (offPeak === now) return { startAt: now, reason: "off_peak_now" };
  const runMs = RUN_BASE_MS + input.lineCount * RUN_PER_LINE_MS;
  if (offPeak + runMs > input.expiresAt) return { startAt: now, reason: "window_too_short" };
  return { startAt: offPeak, reason: "next_off_peak" };
}
