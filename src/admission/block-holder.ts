import {
  type BudgetLease,
  holderExpiry,
  type LendAnswer,
  type LendRequest,
  reserveOf,
  type SpentPermit,
} from "./budget";
import { isOverloadStatus } from "./limit";
import type { AttemptOutcome } from "./step-gate";
import type { GateLoad } from "./types";

/** Spent permits reported in one call at most; more make the holder call early. */
const MAX_SPENT = 256;
/** Spare units nobody took for this long go back to the gate (the whole block, when nothing is in use). */
export const IDLE_RETURN_MS = 1_000;
/** Demand is the peak of this isolate's requests in flight at the gate since its last call, times this, plus one. */
const HEADROOM_FACTOR = 1.5;

export type Lend = (request: LendRequest) => Promise<LendAnswer>;

/**
 * One isolate's block of permits from one gate: the holder side of a {@link BudgetLease}. Synchronous
 * and I/O-free, so a request spends a permit with no round trip; `sync` is the one call to the gate,
 * sent off the request path (in `waitUntil`), at most one at a time.
 *
 * Invariant: the units this holder may spend are never more than the gate counts for it. It shrinks
 * locally before it tells the gate, and it grows only by what the gate answered. It stops spending at
 * its own expiry, which comes before the gate's; permits in use past it are still reported (`keep`),
 * so the gate re-registers them if it had swept the block.
 *
 * Near saturation (the gate says `pressure`, or a load it reported shows it) the holder spends
 * nothing: every request goes to the gate, where priority and fair share are decided, and every permit
 * that comes back is given back to the gate at once instead of being reused here.
 */
export class BlockHolder {
  readonly leaseId = crypto.randomUUID();
  /** Units this holder may spend: in use plus spare. */
  private units = 0;
  private inUse = 0;
  private expiresAt = 0;
  private pressure = false;
  /** This isolate's requests in flight at the gate: block permits and single leases alike. */
  private active = 0;
  private peak = 0;
  private spent: SpentPermit[] = [];
  private renewedAt = Number.NEGATIVE_INFINITY;
  private renewInMs = Number.POSITIVE_INFINITY;
  /** When a request of this isolate last got a permit, from the block or the gate. */
  private lastTakeAt = 0;
  /** A request found no spare permit while the gate was not under pressure: grow. */
  private missed = false;
  /** Something the gate must hear soon: units given back, an upstream overload, idle spare. */
  private urgent = false;
  private calling: Promise<void> | undefined;
  private idleCheck = false;
  /** The spare went unused: the next call asks for no more than what is in use. */
  private idleSpare = false;

  constructor(
    /** The gate (Durable Object name) this block is leased from. */
    readonly authority: string,
    public ttlMs: number,
  ) {}

  /** Spends a permit if one is spare; false sends the request to the gate. */
  take(now: number): boolean {
    if (this.pressure || now >= this.expiresAt || this.inUse >= this.units) {
      if (!this.pressure) this.missed = true;
      return false;
    }
    this.inUse++;
    this.begin(now);
    return true;
  }

  /** A permit spent from the block is back. Under pressure it goes back to the gate, not to the block. */
  put(outcome: AttemptOutcome, heldMs: number): void {
    this.inUse--;
    this.end();
    if (this.spent.length < MAX_SPENT) this.spent.push({ outcome, heldMs });
    if (isOverloadStatus(outcome.status)) {
      // The upstream refused for overload: the gate's limit must hear it now, and this block's spare
      // is better given back than spent on more refusals.
      this.pressure = true;
      this.urgent = true;
    }
    if (this.pressure) {
      this.units = Math.min(this.units, this.inUse);
      this.urgent = true;
    }
  }

  /** A single lease from the gate (not from the block) was granted: it counts as demand here. */
  begin(now: number): void {
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    this.lastTakeAt = now;
  }

  end(): void {
    this.active--;
  }

  /** What the gate said about its load in any answer: enough to tell pressure. */
  observe(load: GateLoad): void {
    this.pressure = load.queued > 0 || load.inFlight >= load.limit - reserveOf(load.limit);
  }

  /**
   * Whether the caller should schedule an idle check (one at a time): the block holds spare. A holder
   * whose only traffic is long answers already running takes nothing and calls rarely, so without
   * this its spare could sit parked while other isolates' requests queue at the gate.
   */
  idle(): boolean {
    if (this.units <= this.inUse || this.idleCheck) return false;
    this.idleCheck = true;
    return true;
  }

  /** After {@link IDLE_RETURN_MS} with no permit taken here, the spare goes back (all of it, if nothing runs). */
  returnIfIdle(now: number): void {
    this.idleCheck = false;
    if (now - this.lastTakeAt < IDLE_RETURN_MS || this.units <= this.inUse) return;
    this.units = this.inUse;
    this.idleSpare = true;
    this.urgent = true;
  }

  /** The gate's view is due: the one call, chained if one is already out. Resolves when done. */
  sync(lend: Lend, now: () => number): Promise<void> | undefined {
    // A call already out checks again when it is answered.
    if (this.calling || !this.due(now())) return undefined;
    this.calling = this.run(lend, now).finally(() => {
      this.calling = undefined;
    });
    return this.calling;
  }

  /** The lease as this holder sees it (what it may spend, until when), and how much of it is in use. */
  view(): BudgetLease & { inUse: number; pressure: boolean } {
    return {
      id: this.leaseId,
      authority: this.authority,
      budget: "concurrency",
      units: this.units,
      expiresAt: this.expiresAt,
      inUse: this.inUse,
      pressure: this.pressure,
    };
  }

  private due(now: number): boolean {
    if (this.urgent || this.spent.length >= MAX_SPENT) return true;
    if (this.missed && !this.pressure) return true;
    return this.units > 0 && now - this.renewedAt >= Math.min(this.renewInMs, this.ttlMs / 3);
  }

  /** Calls while something is due (a shrink the gate must hear follows at once); stops on a failure. */
  private async run(lend: Lend, now: () => number): Promise<void> {
    while (await this.call(lend, now())) {
      if (!this.due(now())) return;
    }
  }

  private async call(lend: Lend, sentAt: number): Promise<boolean> {
    const request = this.request(sentAt);
    let answer: LendAnswer;
    try {
      answer = await lend(request);
    } catch (error) {
      // The gate is unreachable: spend on until the local expiry, and report these permits next time.
      this.spent = [...request.spent, ...this.spent].slice(0, MAX_SPENT);
      this.urgent = true;
      console.warn(JSON.stringify({ event: "block_lend_failed", error: String(error) }));
      return false;
    }
    // The gate answered for `keep`; units given back locally while the call was out stay given back.
    this.units += answer.units - request.keep;
    this.pressure = answer.pressure;
    // Under pressure the spare goes back to the gate, which serves its queue with it.
    if (this.pressure) this.units = Math.min(this.units, this.inUse);
    if (this.units !== answer.units) this.urgent = true;
    this.renewedAt = sentAt;
    this.renewInMs = answer.renewInMs;
    this.expiresAt = answer.units > 0 ? holderExpiry(sentAt, request.ttlMs) : 0;
    return true;
  }

  /** The next call's content; shrinks the block locally first, so the gate's count stays the larger. */
  private request(now: number): LendRequest {
    if (now >= this.expiresAt) this.units = this.inUse;
    const demand = Math.max(this.peak, this.active, this.missed ? 1 : 0);
    const target =
      this.pressure || this.idleSpare
        ? this.inUse
        : demand === 0
          ? 0
          : Math.ceil(demand * HEADROOM_FACTOR) + 1;
    if (this.units > target) this.units = Math.max(this.inUse, target);
    const request: LendRequest = {
      leaseId: this.leaseId,
      keep: this.units,
      want: target,
      inUse: this.inUse,
      spent: this.spent,
      ttlMs: this.ttlMs,
    };
    this.spent = [];
    this.peak = this.active;
    this.missed = false;
    this.urgent = false;
    this.idleSpare = false;
    return request;
  }
}
