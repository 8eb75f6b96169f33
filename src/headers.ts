import { RouterError } from "./errors";

const PLAIN_DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * A numeric request header (`x-router-deadline-ms` and the like): plain decimal digits only, so
 * `1e3`, `0x3e8`, `+1000` and `1000.0` are refused instead of being read as something the caller
 * may not have meant. Absent is `undefined`.
 */
export function parseWholeNumber(
  name: string,
  value: string | undefined,
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const number = PLAIN_DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!(number >= range.min && number <= range.max)) {
    throw new RouterError(
      "invalid_request",
      `Header ${name} must be a plain decimal whole number of milliseconds from ${range.min} to ${range.max} (digits only).`,
      { param: name },
    );
  }
  return number;
}
