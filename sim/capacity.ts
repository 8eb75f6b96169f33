/**
 * Per-account concurrency slots. A slot is held from admission until the response ends (finished,
 * failed or cancelled); waiters of one key are admitted first-in first-out.
 */

export interface Lease {
  /** Idempotent. */
  release(): void;
}

export interface Waiter {
  readonly granted: Promise<Lease>;
  /** Leaves the queue; a slot granted in the meantime is given back. */
  cancel(): void;
}

interface Pending {
  grant(lease: Lease): void;
  cancelled: boolean;
}

export class Capacity {
  readonly #held = new Map<string, number>();
  readonly #queues = new Map<string, Pending[]>();
  readonly #limit: () => number;
  #total = 0;
  #peak = 0;

  /** `limit` is read on every decision, so a reconfigured limit applies at once; 0 = unlimited. */
  constructor(limit: () => number) {
    this.#limit = limit;
  }

  get inFlight(): number {
    return this.#total;
  }

  get peak(): number {
    return this.#peak;
  }

  get waiting(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }

  resetPeak(): void {
    this.#peak = this.#total;
  }

  #hasRoom(key: string): boolean {
    const limit = this.#limit();
    return limit === 0 || this.held(key) < limit;
  }

  #lease(key: string): Lease {
    this.#held.set(key, this.held(key) + 1);
    this.#total++;
    this.#peak = Math.max(this.#peak, this.#total);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = this.held(key) - 1;
        if (left > 0) this.#held.set(key, left);
        else this.#held.delete(key);
        this.#total--;
        this.#pumpKey(key);
      },
    };
  }

  /** A slot now, unless the key is at its limit or others of the same key are already waiting. */
  tryAcquire(key: string): Lease | undefined {
    if ((this.#queues.get(key)?.length ?? 0) > 0 || !this.#hasRoom(key)) return undefined;
    return this.#lease(key);
  }

  wait(key: string): Waiter {
    const queue = this.#queues.get(key) ?? [];
    this.#queues.set(key, queue);
    let granted: Lease | undefined;
    let resolve: (lease: Lease) => void = () => {};
    const pending: Pending = {
      cancelled: false,
      grant: (lease) => {
        granted = lease;
        resolve(lease);
      },
    };
    const promise = new Promise<Lease>((r) => {
      resolve = r;
    });
    queue.push(pending);
    this.#pumpKey(key);
    return {
      granted: promise,
      cancel: () => {
        pending.cancelled = true;
        const q = this.#queues.get(key);
        const i = q?.indexOf(pending) ?? -1;
        if (q && i >= 0) q.splice(i, 1);
        if (q?.length === 0) this.#queues.delete(key);
        granted?.release();
      },
    };
  }

  /** Admits waiters that fit, e.g. after the limit was raised. */
  pump(): void {
    for (const key of [...this.#queues.keys()]) this.#pumpKey(key);
  }

  #pumpKey(key: string): void {
    const queue = this.#queues.get(key);
    while (queue && queue.length > 0 && this.#hasRoom(key)) {
      const next = queue.shift();
      if (next && !next.cancelled) next.grant(this.#lease(key));
    }
    if (queue?.length === 0) this.#queues.delete(key);
  }
}
