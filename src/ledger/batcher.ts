import type { LedgerEntry } from "./entry";

/** How long an entry may wait in the isolate before it is written, and the most written at once. */
const FLUSH_AFTER_MS = 250;
const MAX_BATCH = 200;
/** A write that fails (an evicted or overloaded object) is tried again after these pauses, then logged. */
const RETRY_PAUSES_MS = [100, 500, 2_000];

type Write<T> = (tenant: string, entries: T[]) => Promise<unknown>;

/**
 * One flush window of an isolate's batcher: the batches added while it was open (one per tenant), and
 * the one write that carries them all. `written` settles when that write has ended, never earlier.
 */
export class FlushWindow<B> {
  readonly batches = new Map<string, B>();
  readonly written: Promise<void>;
  private settle: () => void = () => {};
  private started = false;

  constructor() {
    this.written = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
  }

  /** Starts the write once; a later call (the opener's timer, after an early write) does nothing. */
  start(writeAll: (batches: ReadonlyMap<string, B>) => Promise<void>): void {
    if (this.started) return;
    this.started = true;
    writeAll(this.batches).then(this.settle, this.settle);
  }
}

/**
 * The windows of an isolate's batcher, one open at a time: written `afterMs` after it opened, or at
 * once when the batcher finds it full.
 *
 * Every request that adds to a window must hold that window's `written` in its `waitUntil`, not some
 * other write. workerd ends a request once its `waitUntil` promises settle, and cancels its timers and
 * the continuations of the promises it created. Holding its own window's write keeps a request alive
 * until its entry is written: the opener's timer fires, and a write that waits on another batcher's
 * window (a record on its captured payload's) waits on a request that is still there. Holding an
 * earlier or later window's write instead once let a request end first, and the records whose write
 * waited on its payload timer were lost without a trace.
 */
export class FlushWindows<B> {
  private open: FlushWindow<B> | undefined;

  constructor(
    private readonly afterMs: number,
    private readonly writeAll: (batches: ReadonlyMap<string, B>) => Promise<void>,
  ) {}

  /** The window an entry joins now: the open one, or a new one that this request's timer writes. */
  current(): FlushWindow<B> {
    if (this.open) return this.open;
    const window = new FlushWindow<B>();
    this.open = window;
    setTimeout(() => this.write(window), this.afterMs);
    return window;
  }

  /** Closes `window` to new entries and starts its write (once). */
  write(window: FlushWindow<B>): void {
    if (this.open === window) this.open = undefined;
    window.start(this.writeAll);
  }
}

/**
 * Ledger writes batched per isolate: entries wait at most 250 ms, then go to each tenant's ledger in
 * one RPC, instead of one Durable Object call per request. Every request that adds an entry holds the
 * write of that entry's window in its `waitUntil`, so the isolate stays up until the entry is written;
 * only a crash of the isolate in that window can lose one. A failed write is retried (a few times,
 * within the `waitUntil` budget); records are idempotent on their id, so a retried write never double
 * counts.
 */
export class LedgerBatcher<T = LedgerEntry> {
  private readonly windows = new FlushWindows<T[]>(FLUSH_AFTER_MS, (batches) => this.writeAll(batches));

  constructor(
    private readonly write: Write<T>,
    private readonly onError: (error: unknown, entries: number) => void,
  ) {}

  /** Queues `entry`; returns the write that will carry it, for the request's `waitUntil`. */
  add(tenant: string, entry: T): Promise<void> {
    const window = this.windows.current();
    const batch = window.batches.get(tenant) ?? [];
    batch.push(entry);
    window.batches.set(tenant, batch);
    if (batch.length >= MAX_BATCH) this.windows.write(window);
    return window.written;
  }

  private async writeAll(batches: ReadonlyMap<string, T[]>): Promise<void> {
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
