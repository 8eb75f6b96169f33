import { KV_MIN_TTL_SECONDS } from "../config/cache-limits";
import { type CacheEntry, decodeEntry, isFresh } from "./entry";
import { CACHE_FORMAT_VERSION, type CacheId, type CacheScope } from "./key";
import { MemoryTier } from "./memory";

/** KV key of an entry; the scope comes first so `list({ prefix })` finds a tenant's entries. */
export function entryKvKey(id: CacheId): string {
  return `${scopeKvPrefix(id.scope)}${id.hash}`;
}

function scopeKvPrefix(scope: CacheScope): string {
  return `cache:v${CACHE_FORMAT_VERSION}:${scope}:`;
}

/** The L1's key: a synthetic URL on a host that never resolves, so it can collide with nothing real. */
function l1Url(id: CacheId): string {
  return `https://prompt-cache.router.invalid/v${CACHE_FORMAT_VERSION}/${encodeURIComponent(id.scope)}/${id.hash}`;
}

/**
 * The L1 keeps an entry at most this long, so a purge (which can only clear the L1 of the location
 * that runs it) reaches every location within the same minute KV itself takes to propagate.
 */
const L1_MAX_AGE_SECONDS = 60;

/** KV allows this many operations per invocation; a purge stops below it and says there is more. */
const PURGE_BATCH = 900;

/** The isolate's L0, shared by its requests: a few MiB of an isolate's 128 MB. */
const memory = new MemoryTier(8 * 1024 * 1024, L1_MAX_AGE_SECONDS * 1000);

interface Found {
  entry: CacheEntry;
  source: "memory" | "l1" | "kv";
}

/**
 * Entries in KV, with the Workers Cache API as a per-location L1 and the isolate's memory as an L0 in
 * front, both holding an entry at most a minute. KV is eventually consistent:
 * a write is visible at once where it was made and within about 60 s elsewhere, so another location
 * may miss (and answer upstream) in that window; a read never sees a half-written entry, because an
 * entry is written only after its answer completed. KV takes one write per second per key, which
 * coalescing keeps to one write per answer.
 */
export class CacheStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly l1: Cache | undefined,
  ) {}

  /** A fresh entry from the nearest tier that has one; a KV hit is copied into the L1 (via `background`). */
  async get(
    id: CacheId,
    now: number,
    maxAgeSeconds: number | undefined,
    background: (work: Promise<unknown>) => void,
  ): Promise<Found | undefined> {
    const key = entryKvKey(id);
    const kept = memory.get(key, now);
    if (kept && isFresh(kept, now, maxAgeSeconds)) return { entry: kept, source: "memory" };
    const local = await this.l1?.match(l1Url(id)).catch(() => undefined);
    if (local) {
      const text = await local.text();
      const entry = decodeEntry(text);
      if (entry && isFresh(entry, now, maxAgeSeconds)) {
        memory.set(key, entry, text.length, now);
        return { entry, source: "l1" };
      }
    }
    const text = await this.kv.get(key, "text");
    if (text === null) return undefined;
    const entry = decodeEntry(text);
    if (!entry || !isFresh(entry, now, maxAgeSeconds)) return undefined;
    memory.set(key, entry, text.length, now);
    background(this.putL1(id, text, entry, now));
    return { entry, source: "kv" };
  }

  /** Writes an entry (`text` is its encoding) to KV, TTL clamped to KV's 60 s minimum, and to this location's L1. */
  async put(id: CacheId, text: string, entry: CacheEntry, now: number): Promise<void> {
    const ttl = Math.max(KV_MIN_TTL_SECONDS, Math.ceil((entry.expiresAt - now) / 1000));
    memory.set(entryKvKey(id), entry, text.length, now);
    await Promise.all([
      this.kv.put(entryKvKey(id), text, { expirationTtl: ttl }),
      this.putL1(id, text, entry, now),
    ]);
  }

  async delete(id: CacheId): Promise<boolean> {
    memory.delete(entryKvKey(id));
    const existed = (await this.kv.get(entryKvKey(id), "text")) !== null;
    await Promise.all([this.kv.delete(entryKvKey(id)), this.l1?.delete(l1Url(id)).catch(() => false)]);
    return existed;
  }

  /**
   * Deletes a scope's entries, a batch per call: `more` says a further call is needed. Other locations'
   * L1 copies and other isolates' L0 copies cannot be reached from here; they expire within
   * {@link L1_MAX_AGE_SECONDS}.
   */
  async purgeScope(scope: CacheScope): Promise<{ deleted: number; more: boolean }> {
    memory.deletePrefix(scopeKvPrefix(scope));
    const listed = await this.kv.list({ prefix: scopeKvPrefix(scope), limit: PURGE_BATCH / 2 });
    const prefix = scopeKvPrefix(scope);
    await Promise.all(
      listed.keys.map(async ({ name }) => {
        await this.kv.delete(name);
        await this.l1?.delete(l1Url({ scope, hash: name.slice(prefix.length) })).catch(() => false);
      }),
    );
    return { deleted: listed.keys.length, more: !listed.list_complete };
  }

  private async putL1(id: CacheId, text: string, entry: CacheEntry, now: number): Promise<void> {
    if (!this.l1) return;
    const maxAge = Math.min(L1_MAX_AGE_SECONDS, Math.floor((entry.expiresAt - now) / 1000));
    if (maxAge <= 0) return;
    const response = new Response(text, {
      headers: { "content-type": "application/json", "cache-control": `max-age=${maxAge}` },
    });
    await this.l1.put(l1Url(id), response).catch(() => {});
  }
}
