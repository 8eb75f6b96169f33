import { RouterError } from "./errors";

/** `Retry-After` (whole seconds, at least 1) and OpenAI's `retry-after-ms` for a wait of `ms`. */
export function retryAfter(ms: number): { "retry-after": string; "retry-after-ms": string } {
  return {
    "retry-after": String(Math.max(1, Math.ceil(ms / 1000))),
    "retry-after-ms": String(Math.round(ms)),
  };
}

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

/**
 * A request header that names one of a few choices (`x-router-type`, `x-router-cache: on|off`, …), in
 * any case. Absent or blank is `undefined`; anything else not allowed is a 400 naming the header, so a
 * typo never silently means the default.
 */
export function parseEnumHeader<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  header: string,
): T | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const normalized = value.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(normalized)) return normalized as T;
  throw new RouterError("invalid_request", `Header ${header} must be one of: ${allowed.join(", ")}.`, {
    param: header,
  });
}
