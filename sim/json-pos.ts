/**
 * Finds where a value sits in (already valid) JSON text, so deserialization errors can end in serde's
 * `at line L column C` — the position of the last character serde read, columns counted in UTF-8 bytes.
 */

export type JsonPath = readonly (string | number)[];

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === " " || s[i] === "\n" || s[i] === "\r" || s[i] === "\t")) i++;
  return i;
}

function skipString(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === "\\") j++;
    else if (s[j] === '"') return j + 1;
  }
  return s.length;
}

/** Index just past the value starting at `i`. */
function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s[j];
      if (d === '"') j = skipString(s, j) - 1;
      else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return s.length;
  }
  let j = i;
  while (j < s.length && !/[\s,}\]]/.test(s[j] ?? "")) j++;
  return j;
}

/** Start index of the member `key` (last one wins, as in JSON.parse) of the object at `i`. */
function memberStart(s: string, i: number, key: string): number | undefined {
  let found: number | undefined;
  let j = skipWs(s, i + 1);
  while (j < s.length && s[j] !== "}") {
    const keyEnd = skipString(s, j);
    const name: unknown = JSON.parse(s.slice(j, keyEnd));
    const valueStart = skipWs(s, skipWs(s, keyEnd) + 1);
    if (name === key) found = valueStart;
    j = skipWs(s, skipValue(s, valueStart));
    if (s[j] === ",") j = skipWs(s, j + 1);
  }
  return found;
}

function elementStart(s: string, i: number, index: number): number | undefined {
  let j = skipWs(s, i + 1);
  for (let k = 0; j < s.length && s[j] !== "]"; k++) {
    if (k === index) return j;
    j = skipWs(s, skipValue(s, j));
    if (s[j] === ",") j = skipWs(s, j + 1);
  }
  return undefined;
}

/** Index of the last character of the value at `path`, or of the whole document for `[]`. */
export function valueEndIndex(text: string, path: JsonPath): number | undefined {
  let i: number | undefined = skipWs(text, 0);
  for (const seg of path) {
    if (i === undefined) return undefined;
    if (typeof seg === "string" && text[i] === "{") i = memberStart(text, i, seg);
    else if (typeof seg === "number" && text[i] === "[") i = elementStart(text, i, seg);
    else return undefined;
  }
  return i === undefined ? undefined : skipValue(text, i) - 1;
}

const encoder = new TextEncoder();

/** serde_json's `line L column C` for the character at `index`. */
export function lineColumn(text: string, index: number): string {
  const clamped = Math.max(0, Math.min(index, text.length - 1));
  const lineStart = text.lastIndexOf("\n", clamped) + 1;
  let line = 1;
  for (let j = text.indexOf("\n"); j !== -1 && j < lineStart; j = text.indexOf("\n", j + 1)) line++;
  const column = text.length === 0 ? 0 : encoder.encode(text.slice(lineStart, clamped + 1)).length;
  return `line ${line} column ${column}`;
}
