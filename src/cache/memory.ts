import type { CacheEntry } from "./entry";

/**
 * The isolate's own copies of recently used entries, decoded: a hit from here needs no I/O at all.
 * Bounded in bytes (least recently used go first) and in age, like the L1, so a purge reaches every
 * isolate within the same minute it takes to reach every location. Pure: `now` is passed in.
 */
export class MemoryTier {
  /** Map order is recency order: a hit moves its key to the end. */
  private readonly slots = new Map<string, { entry: CacheEntry; size: number; keptUntil: number }>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxAgeMs: number,
  ) {}

  get(key: string, now: number): CacheEntry | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    this.slots.delete(key);
    if (now >= slot.keptUntil || now >= slot.entry.expiresAt) {
      this.bytes -= slot.size;
      return undefined;
    }
    this.slots.set(key, slot);
    return slot.entry;
  }

  set(key: string, entry: CacheEntry, size: number, now: number): void {
    this.delete(key);
    if (size > this.maxBytes / 4) return;
    this.slots.set(key, { entry, size, keptUntil: Math.min(entry.expiresAt, now + this.maxAgeMs) });
    this.bytes += size;
    for (const [oldest, slot] of this.slots) {
      if (this.bytes <= this.maxBytes) break;
      this.slots.delete(oldest);
      this.bytes -= slot.size;
    }
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.bytes -= slot.size;
  }

  deletePrefix(prefix: string): void {
    for (const key of [...this.slots.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.slots.size, bytes: this.bytes };
  }
}
