import { RouterError } from "../errors";

/** Time ranges the views offer, as `?range=` names them. */
export const RANGES_MS = {
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "6h": 21_600_000,
  "24h": 86_400_000,
} as const;

export type RangeName = keyof typeof RANGES_MS;

/** `?range=` checked against the names an endpoint offers (default 15m); anything else is a clear 400. */
export function parseRange(
  value: string | undefined,
  offered: readonly RangeName[],
): { range: RangeName; ms: number } {
  const range = (value ?? "15m") as RangeName;
  if (!offered.includes(range)) {
    throw new RouterError("invalid_request", `range must be one of ${offered.join(", ")}.`, {
      param: "range",
    });
  }
  return { range, ms: RANGES_MS[range] };
}

/** ISO 8601 as `Date.parse` reads it reliably: a date, optionally a time and a zone. */
const ISO_8601 =
  /^\d{4}-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?$/i;

/**
 * `?from=`/`?to=`: epoch milliseconds or an ISO 8601 date; absent or empty is undefined. Anything else
 * is a 400, not whatever `Date.parse` guesses (it reads `-1` or `March 7` as dates in 2001).
 */
export function queryTime(value: string | undefined, param: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const at = /^\d+$/.test(value) ? Number(value) : isoDate(value) ? Date.parse(value) : Number.NaN;
  // Past the last time a Date can hold (±8.64e15 ms), a range could not be shown or compared.
  if (!Number.isFinite(at) || at > MAX_DATE_MS) {
    throw new RouterError("invalid_request", `'${param}' must be an ISO 8601 date or epoch milliseconds.`, {
      param,
    });
  }
  return at;
}

/** ISO 8601 whose day exists: `Date.parse` reads 2026-02-30 as 2 March rather than refusing it. */
function isoDate(value: string): boolean {
  if (!ISO_8601.test(value)) return false;
  const [year, month, day = 1] = value.slice(0, 10).split("-").map(Number) as [number, number, number?];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth;
}

const WEEK_MS = 7 * 24 * 3600_000;
const MAX_DATE_MS = 8.64e15;

/** `[from, to)` as asked, by default the week up to now. */
export function weekWindow(
  from: number | undefined,
  to: number | undefined,
  now: number,
): { from: number; to: number } {
  const until = to ?? now + 1;
  return { from: from ?? Math.max(0, until - WEEK_MS), to: until };
}

/** A usage view's `[from, to)` from its query ({@link weekWindow}); `from` must come first. */
export function usageWindow(
  query: { from?: string; to?: string },
  now: number,
): { from: number; to: number } {
  const window = weekWindow(queryTime(query.from, "from"), queryTime(query.to, "to"), now);
  if (window.from >= window.to)
    throw new RouterError("invalid_request", "'from' must be before 'to'.", { param: "from" });
  return window;
}
