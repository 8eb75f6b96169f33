import { type AnswerOutcome, INTERRUPTED_FINISH } from "../answer";
import { KV_MAX_VALUE_BYTES } from "../config/cache-limits";
import type { Usage } from "../usage";
import * as z from "../zod";
import { CACHE_FORMAT_VERSION } from "./key";

const usageSchema = z.object({
  promptTokens: z.number(),
  completionTokens: z.number(),
  cacheHitTokens: z.number(),
  cacheMissTokens: z.number(),
  reasoningTokens: z.number(),
}) satisfies z.ZodMiniType<Usage>;

const entryBase = {
  v: z.literal(CACHE_FORMAT_VERSION),
  endpoint: z.enum(["chat", "fim", "messages", "responses"]),
  /** The router model that answered, to price what a hit saves. */
  model: z.string(),
  storedAt: z.number(),
  expiresAt: z.number(),
  finishReason: z.string(),
  usage: z.optional(usageSchema),
};

const entrySchema = z.discriminatedUnion("kind", [
  /** A streamed answer: each SSE event's `data` payload, verbatim and in order (no `[DONE]`). */
  z.object({ ...entryBase, kind: z.literal("stream"), events: z.array(z.string()) }),
  /** A non-streamed answer: the JSON body, verbatim. */
  z.object({ ...entryBase, kind: z.literal("json"), json: z.string() }),
]);

export type CacheEntry = z.output<typeof entrySchema>;

export function encodeEntry(entry: CacheEntry): string {
  return JSON.stringify(entry);
}

/** An entry as stored, or undefined for anything else (an older format, a damaged value). */
export function decodeEntry(text: string): CacheEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = entrySchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Whether an entry may still be served at `now`. KV deletes expired keys on its own clock and the L1
 * keeps entries by max-age, so the entry's own expiry is checked on every read; a request's
 * `max-age` also bounds the age it accepts.
 */
export function isFresh(entry: CacheEntry, now: number, maxAgeSeconds?: number): boolean {
  if (now >= entry.expiresAt) return false;
  return maxAgeSeconds === undefined || now - entry.storedAt <= maxAgeSeconds * 1000;
}

/** Whole seconds since the entry was stored, for the `age` header. */
export function ageSeconds(entry: CacheEntry, now: number): number {
  return Math.max(0, Math.floor((now - entry.storedAt) / 1000));
}

/** How an answer ended, as far as the cache must know to decide whether to keep it. */
interface FinishedAnswer {
  outcome: AnswerOutcome;
  finishReason?: string;
  /** Bytes of the payloads that would be stored. */
  bytes: number;
  /** The answer came from a step other than the one the key was derived for (a fallback model, no thinking). */
  servedOtherwise: boolean;
  /** An event of the stream is not JSON: its caller may have read past it, but every replay would break an SDK. */
  malformed?: boolean;
}

type StoreVerdict =
  | { store: true }
  | {
      store: false;
      reason:
        | "incomplete"
        | "no_finish_reason"
        | typeof INTERRUPTED_FINISH
        | "too_large"
        | "served_otherwise"
        | "malformed";
    };

/**
 * Only complete answers are stored: never a failed, truncated or cancelled stream (outcome), an answer
 * without a finish reason or one the upstream cut for lack of resources, an upstream error (its outcome
 * is "failed"), an answer over the size limit, one a fallback step produced under another key's terms,
 * or a stream with an event that is not JSON.
 */
export function storeVerdict(answer: FinishedAnswer, maxBytes: number): StoreVerdict {
  if (answer.finishReason === INTERRUPTED_FINISH) return { store: false, reason: INTERRUPTED_FINISH };
  if (answer.outcome !== "complete") return { store: false, reason: "incomplete" };
  if (!answer.finishReason) return { store: false, reason: "no_finish_reason" };
  if (answer.bytes > Math.min(maxBytes, KV_MAX_VALUE_BYTES)) return { store: false, reason: "too_large" };
  if (answer.servedOtherwise) return { store: false, reason: "served_otherwise" };
  if (answer.malformed) return { store: false, reason: "malformed" };
  return { store: true };
}
