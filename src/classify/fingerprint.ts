import { estimateTextTokens } from "./tokens";

/** A request's prompt, as the prompt-cost insights group it (issue 25). */
export interface PromptFingerprint {
  /** The stable prefix (system prompt and tools) with volatile parts (numbers, dates, ids) masked. */
  family: string;
  /** The prefix exactly: a family whose prefix hashes differ request to request defeats DeepSeek's cache. */
  prefixHash: string;
  /** The whole request body: equal hashes are repeats the prompt cache could have answered. */
  promptHash: string;
  /** Estimated tokens of the prefix, the part DeepSeek's context cache can serve on a repeat. */
  prefixTokens: number;
}

/**
 * Pure: the fingerprints of a chat-completions body (every front door's request is classified in these
 * terms). The prefix is the system and developer messages and the tools, in order.
 *
 * Its cost is bounded whatever the prompt: a long system prompt (a pasted document, a large tool
 * schema) is fingerprinted from samples, never read whole. A prefix up to twice {@link PREFIX_HALF}
 * in a body up to {@link SAMPLED_BODY_CHARS} is hashed exactly: equal hashes mean equal prefixes.
 */
export function fingerprintPrompt(
  body: Readonly<Record<string, unknown>>,
  rawBody: string | Uint8Array,
): PromptFingerprint {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = messages.filter(
    (m: { role?: unknown } | null) => m?.role === "system" || m?.role === "developer",
  );
  const sampled = rawBody.length > SAMPLED_BODY_CHARS ? new LongStrings() : undefined;
  const prefix = JSON.stringify([system, body.tools ?? null], sampled?.replacer);
  const hashes = hashPrefix(standIn(prefix, PREFIX_HALF));
  return {
    ...hashes,
    promptHash: bodyHash(rawBody),
    prefixTokens:
      system.length === 0 && !body.tools ? 0 : estimateTextTokens(prefix) + (sampled?.tokensLeftOut ?? 0),
  };
}

/** Bodies longer than this have their long strings sampled in the prefix ({@link LongStrings}). */
const SAMPLED_BODY_CHARS = 65_536;
/** Strings longer than this stand in a sampled prefix as their length and three windows. */
const LONG_STRING_CHARS = 12_288;
const STRING_WINDOW_CHARS = 4_096;
/** A prefix's head and tail this long stand for it. */
const PREFIX_HALF = 16_384;

/**
 * A `JSON.stringify` replacer that samples long strings: each becomes its length and its start,
 * middle and end. A change outside those windows goes unseen, which a prompt of that size can afford;
 * the tokens the windows leave out are counted, so the prefix's estimate is still the whole text's.
 */
class LongStrings {
  tokensLeftOut = 0;

  readonly replacer = (_key: string, value: unknown): unknown => {
    if (typeof value !== "string" || value.length <= LONG_STRING_CHARS) return value;
    const middle = Math.floor((value.length - STRING_WINDOW_CHARS) / 2);
    const sample = `${value.length}:${value.slice(0, STRING_WINDOW_CHARS)}${value.slice(middle, middle + STRING_WINDOW_CHARS)}${value.slice(-STRING_WINDOW_CHARS)}`;
    this.tokensLeftOut += estimateTextTokens(value) - estimateTextTokens(sample);
    return sample;
  };
}

/**
 * The prefix's two hashes in one pass: `prefixHash` of its characters, and `family` of the same with
 * each volatile run masked. A volatile run is a maximal run of hex digits and the separators of dates,
 * times and UUIDs (`-`, `:`, `.`) that holds a decimal digit: numbers, dates, times, UUIDs and hex ids,
 * what changes between otherwise equal prompts. A scan, not a regular expression: masking with one
 * cost about 10 µs a KiB.
 */
function hashPrefix(text: string): Pick<PromptFingerprint, "family" | "prefixHash"> {
  // Lanes in locals, not an object's fields: V8 keeps them unboxed (about 3× faster a character).
  let exactA = FNV_A;
  let exactB = FNV_B;
  let maskedA = FNV_A;
  let maskedB = FNV_B;
  let runStart = -1;
  let runHasDigit = false;
  for (let i = 0; i <= text.length; i++) {
    // -1 past the end closes a run the text ends with.
    const code = i < text.length ? text.charCodeAt(i) : -1;
    const digit = code >= 48 && code <= 57;
    if (digit || isHexLetterOrSeparator(code)) {
      if (runStart < 0) runStart = i;
      runHasDigit ||= digit;
    } else {
      if (runHasDigit) {
        maskedA = fnvA(maskedA, MASK);
        maskedB = fnvB(maskedB, MASK);
      } else if (runStart >= 0) {
        for (let j = runStart; j < i; j++) {
          maskedA = fnvA(maskedA, text.charCodeAt(j));
          maskedB = fnvB(maskedB, text.charCodeAt(j));
        }
      }
      runStart = -1;
      runHasDigit = false;
      if (code < 0) break;
      maskedA = fnvA(maskedA, code);
      maskedB = fnvB(maskedB, code);
    }
    exactA = fnvA(exactA, code);
    exactB = fnvB(exactB, code);
  }
  return { family: hex64(maskedA, maskedB), prefixHash: hex64(exactA, exactB) };
}

const MASK = 35; // "#"

function isHexLetterOrSeparator(code: number): boolean {
  return (
    (code >= 97 && code <= 102) || (code >= 65 && code <= 70) || code === 45 || code === 46 || code === 58
  );
}

/** What a text is hashed as: itself, or past twice `half` its length, its length, head and tail. */
function standIn(text: string, half: number): string {
  return text.length <= 2 * half ? text : `${text.length}:${text.slice(0, half)}${text.slice(-half)}`;
}

/** A body's head and tail this long stand for it; a prompt of megabytes costs no more to hash. */
const HASHED_HALF = 32_768;

/**
 * The identity of a request's bytes for repeat detection: all of them, or past twice {@link HASHED_HALF}
 * its length, head and tail. Bytes are hashed as they are, never turned into a string first.
 */
function bodyHash(raw: string | Uint8Array): string {
  if (typeof raw === "string") return hash64(standIn(raw, HASHED_HALF));
  if (raw.length <= 2 * HASHED_HALF) return hashBytes([raw]);
  const length = new TextEncoder().encode(`${raw.length}:`);
  return hashBytes([length, raw.subarray(0, HASHED_HALF), raw.subarray(-HASHED_HALF)]);
}

/** Two 32-bit FNV-1a passes (different offsets) as 16 hex digits: fast, and enough to group prompts. */
export function hash64(text: string): string {
  let a = FNV_A;
  let b = FNV_B;
  for (let i = 0; i < text.length; i++) {
    a = fnvA(a, text.charCodeAt(i));
    b = fnvB(b, text.charCodeAt(i));
  }
  return hex64(a, b);
}

/** {@link hash64} of bytes, read in place. */
function hashBytes(parts: readonly Uint8Array[]): string {
  let a = FNV_A;
  let b = FNV_B;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      a = fnvA(a, part[i] as number);
      b = fnvB(b, part[i] as number);
    }
  }
  return hex64(a, b);
}

const FNV_A = 0x811c9dc5;
const FNV_B = 0x01000193 ^ 0x5bd1e995;
const FNV_PRIME = 0x01000193;

/** One step of each lane; small enough that V8 inlines them into the loops. */
function fnvA(hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME);
}

function fnvB(hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME) ^ (hash >>> 15);
}

function hex64(a: number, b: number): string {
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
