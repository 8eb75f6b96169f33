/**
 * Small readers the dialects share. Most of them read a compact event without parsing it: DeepSeek (like
 * the vendors' SDKs) writes `type` as an event's first field, and most events of a stream are one small
 * delta, so whether it carries output can be read off the text. Anything not in that form is parsed.
 */

export type Json = Record<string, unknown>;

export function parse(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A token count, or 0 for anything that is not one. */
export function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** One SSE event, `event:` line first: the Anthropic SDK ignores events without it. */
export function framed(payload: string): string {
  const type = parse(payload)?.type;
  return `event: ${typeof type === "string" ? type : "message"}\ndata: ${payload}\n\n`;
}

const TYPE_PREFIX = '{"type":"';

/** The event's `type` when it is the first field; undefined otherwise (then parse). */
export function leadingType(payload: string): string | undefined {
  if (!payload.startsWith(TYPE_PREFIX)) return undefined;
  const end = payload.indexOf('"', TYPE_PREFIX.length);
  return end > TYPE_PREFIX.length ? payload.slice(TYPE_PREFIX.length, end) : undefined;
}

/** Whether one of `fields` holds a non-empty string (its value does not start with a closing quote). */
export function hasText(payload: string, fields: readonly string[]): boolean {
  for (const field of fields) {
    const key = `"${field}":"`;
    const at = payload.indexOf(key);
    if (at !== -1 && payload.charCodeAt(at + key.length) !== 34) return true;
  }
  return false;
}
