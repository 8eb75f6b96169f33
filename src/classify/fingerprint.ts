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

/** Dates and times, UUIDs, long hex ids and digit runs: what changes between otherwise equal prompts. */
const VOLATILE =
  /\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{12,}\b|\d+/gi;

/**
 * Pure: the fingerprints of a chat-completions body (every front door's request is classified in these
 * terms). The prefix is the system and developer messages and the tools, in order.
 */
export function fingerprintPrompt(
  body: Readonly<Record<string, unknown>>,
  rawBody: string | Uint8Array,
): PromptFingerprint {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = messages.filter(
    (m: { role?: unknown } | null) => m?.role === "system" || m?.role === "developer",
  );
  const prefix = JSON.stringify([system, body.tools ?? null]);
  return {
    family: hash64(prefix.replace(VOLATILE, "#")),
    prefixHash: hash64(prefix),
    promptHash: bodyHash(rawBody),
    prefixTokens: system.length === 0 && !body.tools ? 0 : estimateTextTokens(prefix),
  };
}

/** A body's head and tail this long stand for it; a prompt of megabytes costs no more to hash. */
const HASHED_HALF = 32_768;

/**
 * The identity of a request's bytes for repeat detection: all of them, or past twice {@link HASHED_HALF}
 * its length, head and tail. Bytes are hashed as they are, never turned into a string first.
 */
function bodyHash(raw: string | Uint8Array): string {
  if (raw.length <= 2 * HASHED_HALF) return typeof raw === "string" ? hash64(raw) : hashBytes([raw]);
  if (typeof raw === "string")
    return hash64(`${raw.length}:${raw.slice(0, HASHED_HALF)}${raw.slice(-HASHED_HALF)}`);
  const length = new TextEncoder().encode(`${raw.length}:`);
  return hashBytes([length, raw.subarray(0, HASHED_HALF), raw.subarray(-HASHED_HALF)]);
}

/** Two 32-bit FNV-1a passes (different offsets) as 16 hex digits: fast, and enough to group prompts. */
export function hash64(text: string): string {
  let a = FNV_A;
  let b = FNV_B;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, FNV_PRIME);
    b = Math.imul(b ^ code, FNV_PRIME) ^ (b >>> 15);
  }
  return hex64(a, b);
}

/** {@link hash64} of bytes, read in place. */
function hashBytes(parts: readonly Uint8Array[]): string {
  let a = FNV_A;
  let b = FNV_B;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      const code = part[i] as number;
      a = Math.imul(a ^ code, FNV_PRIME);
      b = Math.imul(b ^ code, FNV_PRIME) ^ (b >>> 15);
    }
  }
  return hex64(a, b);
}

const FNV_A = 0x811c9dc5;
const FNV_B = 0x01000193 ^ 0x5bd1e995;
const FNV_PRIME = 0x01000193;

function hex64(a: number, b: number): string {
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
