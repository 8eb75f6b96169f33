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
