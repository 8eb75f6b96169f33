import type { LedgerEntry } from "./entry";

/** How long an entry may wait in the isolate before it is written, and the most written at once. */
const FLUSH_AFTER_MS = 250;
const MAX_BATCH = 200;
/** A write that fails (an evicted or overloaded object) is tried again after these pauses, then logged. */
const RETRY_PAUSES_MS = [100, 500, 2_000];

type Write<T> = (tenant: string, entries: T[]) => Promise<unknown>;

/**
 * Ledger writes batched per isolate: entries wait at most 250 ms, then go to each tenant's ledger in
 * one RPC, instead of one Durable Object call per request. Every request that adds an entry holds the
 * pending flush in its `waitUntil`, so the isolate stays up until the entry is written; only a crash
 * of the isolate in that window can lose one. A failed write is retried (a few times, within the
 * `waitUntil` budget); records are idempotent on their id, so a retried write never double counts.
 */
export class LedgerBatcher<T = LedgerEntry> {
  private pending = new Map<string, T[]>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly write: Write<T>,
    private readonly onError: (error: unknown, entries: number) => void,
  ) {}

  /** Queues `entry`; returns the flush that will write it, for the request's `waitUntil`. */
  add(tenant: string, entry: T): Promise<void> {
    const queue = this.pending.get(tenant) ?? [];
    queue.push(entry);
    this.pending.set(tenant, queue);
    if (queue.length >= MAX_BATCH) return this.flushNow();
    this.flushing ??= new Promise<void>((resolve) => setTimeout(resolve, FLUSH_AFTER_MS)).then(() =>
      this.flushNow(),
    );
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    this.flushing = undefined;
    const batches = this.pending;
    this.pending = new Map();
    await Promise.all([...batches].map(([tenant, entries]) => this.writeWithRetries(tenant, entries)));
  }

  private async writeWithRetries(tenant: string, entries: T[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.write(tenant, entries);
        return;
      } catch (error) {
        const pause = RETRY_PAUSES_MS[attempt];
        if (pause === undefined) return this.onError(error, entries.length);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}
