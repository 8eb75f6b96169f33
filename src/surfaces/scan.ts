/**
 * Reading a compact event without parsing it. DeepSeek (like the vendors' SDKs) writes `type` as an
 * event's first field, and most events of a stream are one small delta: whether it carries output can be
 * read off the text. Anything not in this form is parsed as usual.
 */

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
