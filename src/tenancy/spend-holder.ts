import { blockSize, type CounterAsk, type CounterState, EPSILON, isWhole, type SpendAnswer } from "./spend";

/** One amount a request reserves on one counter of its window. */
export type Need = Omit<CounterAsk, "give" | "need" | "want"> & { amount: number };

interface Block {
  /** The counter and window the block is of, as the authority is told. */
  of: Omit<Need, "amount">;
  window: number;
  /** Units this isolate may still spend with no round trip; negative is a debt the authority must hear. */
  balance: number;
  /** The authority's count at the last answer (this block's grants included). */
  used: number;
  /** Units reserved by this isolate's requests still in flight: counted as used until they settle. */
  reserved: number;
  /**
   * The part of `reserved` still being asked of the authority (calls in flight): not lent yet, so not
   * in its count, and never "lent and not spent".
   */
  asking: number;
  /** The authority refused a reservation on it in this window. */
  refused: boolean;
}

/** Spare units nobody reserved for this long go back to the authority. */
export const IDLE_RETURN_MS = 1_000;

export type Lend = (asks: CounterAsk[]) => Promise<SpendAnswer>;

/**
 * One isolate's blocks of one tenant's budgets: the holder side of the lease. `take` is synchronous
 * and I/O-free; what it cannot cover goes to the authority in one call (`fill`), which also refills
 * the blocks. Invariant: a block's positive balance is always counted by the authority as used, so
 * the holder never spends what the authority did not lend; it shrinks locally before it gives back.
 */
export class SpendHolder {
  /** This holder as the authority knows it, for the holdings its calls report. */
  readonly id = crypto.randomUUID();
  private readonly blocks = new Map<string, Block>();
  private inFlight = 0;
  private lastTakeAt = 0;
  private idleCheck = false;

  constructor(public lease: number) {}

  /** Takes what the blocks hold toward each need; returns the part of each still missing. */
  take(needs: Need[], now: number): number[] {
    this.forgetEnded(now);
    this.inFlight++;
    this.lastTakeAt = now;
    return needs.map((need) => {
      const block = this.blockOf(need);
      const took = Math.max(0, Math.min(block.balance, need.amount));
      block.balance -= took;
      block.reserved += need.amount;
      return need.amount - took;
    });
  }

  /** The authority's call for what `take` could not cover; on refusal the taken units go back to the blocks. */
  async fill(needs: Need[], missing: number[], lend: Lend): Promise<SpendAnswer> {
    needs.forEach((need, i) => {
      this.blockOf(need).asking += missing[i] ?? 0;
    });
    const asks = needs.map((need, i): CounterAsk => {
      const block = this.blockOf(need);
      const debt = Math.min(0, block.balance);
      block.balance -= debt;
      const want = this.lease > 0 ? blockSize(need.kind, need.limit, this.lease) : 0;
      const { amount: _, ...counter } = need;
      return { ...counter, give: debt, need: missing[i] ?? 0, want, unspent: unspentOf(block) };
    });
    let answer: SpendAnswer;
    try {
      answer = await lend(asks);
    } catch (error) {
      this.asked(needs, missing);
      this.restore(needs, missing, asks);
      throw error;
    }
    this.asked(needs, missing);
    this.absorb(needs, answer.counters);
    if (!answer.ok) {
      const refused = needs.find((need) => need.counter === answer.refused.counter);
      if (refused) this.blockOf(refused).refused = true;
    }
    needs.forEach((need, i) => {
      const block = this.blockOf(need);
      // Granted: the need is spent from the grant. Refused: what was taken from the block goes back.
      if (answer.ok) block.balance -= missing[i] ?? 0;
      else block.balance += need.amount - (missing[i] ?? 0);
    });
    if (!answer.ok && this.covers(needs)) {
      // Refused, but this isolate's concurrent calls were lent spare meanwhile: spend that instead.
      for (const need of needs) this.blockOf(need).balance -= need.amount;
      return { ok: true, counters: answer.counters };
    }
    if (!answer.ok) this.release(needs);
    return answer;
  }

  /** The authority has answered (or failed) a call: its needs are no longer being asked for. */
  private asked(needs: Need[], missing: number[]): void {
    needs.forEach((need, i) => {
      const block = this.blockOf(need);
      block.asking = Math.max(0, block.asking - (missing[i] ?? 0));
    });
  }

  /** Whether the blocks alone hold every need now. */
  private covers(needs: Need[]): boolean {
    return needs.every((need) => this.blockOf(need).balance >= need.amount);
  }

  /**
   * A request is over: each counter gets back what it reserved beyond its real use (or is charged the
   * excess, which may leave a debt). Returns the asks that must reach the authority now, if any: debts,
   * and in exact mode (no lease) everything the blocks hold, and every dollar counter even with nothing
   * to give, so the authority's report of what this holder holds unspent never falls behind.
   */
  settle(needs: Need[], actual: number[]): CounterAsk[] {
    this.release(needs);
    needs.forEach((need, i) => {
      const block = this.blocks.get(need.counter);
      if (block && block.window === need.window) block.balance += need.amount - (actual[i] ?? need.amount);
    });
    return this.giveBack(
      needs,
      (block) => block.balance < 0 || (this.lease === 0 && (block.balance > 0 || !isWhole(block.of.kind))),
    );
  }

  /**
   * Whether `need`, refused, was refused only for what is lent and not spent: the authority's count,
   * less this isolate's spare and reservations and what other holders reported holding unspent
   * (`unspentElsewhere`), leaves room for it. Those requests give back what they do not use when they
   * end, so it may fit then.
   */
  refusedForReservations(need: Need, unspentElsewhere: number): boolean {
    const block = this.blocks.get(need.counter);
    if (!block || block.window !== need.window) return false;
    const unspent = unspentOf(block) + unspentElsewhere;
    if (unspent <= EPSILON) return false;
    return block.used - unspent + need.amount <= need.limit + EPSILON;
  }

  /** When spare unused since the last take may go back: the idle check's time. */
  idleAt(): number {
    return this.lastTakeAt + IDLE_RETURN_MS;
  }

  /** Whether the caller should schedule an idle check (one at a time): some block holds spare. */
  idle(): boolean {
    if (this.idleCheck || this.lease === 0) return false;
    if (![...this.blocks.values()].some((block) => block.balance > 0)) return false;
    this.idleCheck = true;
    return true;
  }

  /**
   * After {@link IDLE_RETURN_MS} with nothing reserved here, every block's spare goes back. Undefined:
   * not idle long enough yet, look again at {@link idleAt}. A request in flight ends the check (its
   * settlement schedules the next).
   */
  returnIfIdle(now: number): CounterAsk[] | undefined {
    if (this.inFlight === 0 && now < this.idleAt()) return undefined;
    this.idleCheck = false;
    if (this.inFlight > 0) return [];
    const all = [...this.blocks.values()].map((block) => ({ ...block.of, amount: 0 }));
    return this.giveBack(all, (block) => block.balance !== 0);
  }

  /** Applies the authority's answer to a give-back call. */
  absorb(needs: Array<Omit<Need, "amount">>, counters: CounterState[]): void {
    counters.forEach((state, i) => {
      const need = needs[i];
      if (!need) return;
      const block = this.blockOf(need);
      block.balance += state.granted;
      block.used = state.used;
    });
  }

  /** A give-back call failed: debts stay owed (spare given back is lost to this window, never overspent). */
  unsent(asks: CounterAsk[]): void {
    for (const ask of asks) {
      const block = this.blocks.get(ask.counter);
      if (block && block.window === ask.window && ask.give < 0) block.balance += ask.give;
    }
  }

  /** Whether the authority refused this counter to this isolate in this window. */
  refusedBefore(need: Pick<Need, "counter" | "window">): boolean {
    const block = this.blocks.get(need.counter);
    return block !== undefined && block.window === need.window && block.refused;
  }

  private forgottenAt = 0;

  /**
   * Drops blocks whose window has ended and that owe nothing, at most once a minute: a tenant with many
   * end users keeps only the counters of users active in the current windows (issue 23).
   */
  private forgetEnded(now: number): void {
    if (now - this.forgottenAt < 60_000) return;
    this.forgottenAt = now;
    for (const [counter, block] of this.blocks) {
      if (block.of.windowEnd <= now && block.balance >= 0) this.blocks.delete(counter);
    }
  }

  /** What this isolate knows is left of a counter: the authority's count, less what it spent locally since. */
  remaining(need: Pick<Need, "counter" | "window" | "limit">): number {
    const block = this.blocks.get(need.counter);
    if (!block || block.window !== need.window) return need.limit;
    return Math.max(0, need.limit - block.used + Math.max(0, block.balance));
  }

  /** Gives back whole balances chosen by `which`, locally first; the caller sends the asks. */
  private giveBack(needs: Need[], which: (block: Block) => boolean): CounterAsk[] {
    const asks: CounterAsk[] = [];
    for (const need of needs) {
      const block = this.blocks.get(need.counter);
      if (!block || block.window !== need.window || !which(block)) continue;
      const { amount: _, ...counter } = need;
      asks.push({ ...counter, give: block.balance, need: 0, want: 0, unspent: block.reserved });
      block.balance = 0;
    }
    return asks;
  }

  /** A failed call: debts stay owed; units taken stay with the blocks. */
  private restore(needs: Need[], missing: number[], asks: CounterAsk[]): void {
    needs.forEach((need, i) => {
      const block = this.blockOf(need);
      block.balance += (asks[i]?.give ?? 0) + need.amount - (missing[i] ?? 0);
    });
    this.release(needs);
  }

  /** A request's reservations end (settled, refused or failed): it is no longer in flight here. */
  private release(needs: Need[]): void {
    this.inFlight--;
    for (const need of needs) {
      const block = this.blocks.get(need.counter);
      if (block && block.window === need.window) block.reserved = Math.max(0, block.reserved - need.amount);
    }
  }

  private blockOf(need: Omit<Need, "amount">): Block {
    let block = this.blocks.get(need.counter);
    if (!block || block.window !== need.window) {
      const { counter, kind, window, windowEnd, limit } = need;
      block = {
        of: { counter, kind, window, windowEnd, limit },
        window,
        balance: 0,
        used: 0,
        reserved: 0,
        asking: 0,
        refused: false,
      };
      this.blocks.set(need.counter, block);
    }
    // The limit in force now: what the block later gives back under (an idle return) tells it too.
    block.of.limit = need.limit;
    return block;
  }
}

/**
 * What the authority lent this block that is not spent: its spare, and what requests in flight
 * reserved from lent units. A reservation still being asked for is not lent: counting it would make
 * a spent budget read as merely held by requests in flight.
 */
function unspentOf(block: Block): number {
  return Math.max(0, block.balance) + Math.max(0, block.reserved - block.asking);
}
