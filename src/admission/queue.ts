import type { LatencyClass } from "../classify/classify";
import { PRIORITIES, type Priority } from "../config/tenants";

/** A request waiting for a slot. */
export interface Waiter {
  id: string;
  tenant: string;
  priority: Priority;
  latency: LatencyClass;
  /** The tenant's concurrency limit at this gate; Infinity when it has none. */
  tenantLimit: number;
  /** Arrival order at this gate. */
  seq: number;
}

/** Slots a tenant holds at the gate right now. */
export type HeldBy = (tenant: string) => number;

const PRIORITY_RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

/**
 * The waiting room of one gate: pure bookkeeping and decisions, no clock and no I/O.
 *
 * Order of service: strictly by priority (high, normal, low). Within a priority, the tenant holding the
 * fewest slots goes first, then the tenant whose oldest waiter is oldest; within a tenant, first come
 * first served. Serving the least-held tenant is max-min fairness of concurrency: a noisy tenant that
 * already holds most slots gets the next free one only when no quieter tenant is waiting, so it cannot
 * starve the others, and an imbalance that exists when a quiet tenant arrives is corrected at once
 * (plain round robin, which deficit round robin with unit costs reduces to, would only alternate).
 * A waiter whose tenant is at its own limit is passed over, so a slot never idles because of one tenant.
 */
export class WaitQueue {
  private readonly tenants: Record<Priority, Map<string, Waiter[]>> = {
    high: new Map(),
    normal: new Map(),
    low: new Map(),
  };
  private readonly byId = new Map<string, Waiter>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Waiter | undefined {
    return this.byId.get(id);
  }

  add(waiter: Waiter): void {
    const tenants = this.tenants[waiter.priority];
    const line = tenants.get(waiter.tenant);
    if (line) line.push(waiter);
    else tenants.set(waiter.tenant, [waiter]);
    this.byId.set(waiter.id, waiter);
  }

  remove(id: string): Waiter | undefined {
    const waiter = this.byId.get(id);
    if (!waiter) return undefined;
    this.byId.delete(id);
    const tenants = this.tenants[waiter.priority];
    const line = tenants.get(waiter.tenant) ?? [];
    line.splice(line.indexOf(waiter), 1);
    if (line.length === 0) tenants.delete(waiter.tenant);
    return waiter;
  }

  counts(): Record<Priority, number> {
    const counts = { high: 0, normal: 0, low: 0 };
    for (const priority of PRIORITIES) {
      for (const line of this.tenants[priority].values()) counts[priority] += line.length;
    }
    return counts;
  }

  /** Waiters of `tenant`, all priorities. */
  queuedFor(tenant: string): number {
    let n = 0;
    for (const priority of PRIORITIES) n += this.tenants[priority].get(tenant)?.length ?? 0;
    return n;
  }

  /** Waiters that would be served before a newcomer of `priority`: the same or higher priority. */
  ahead(priority: Priority): number {
    let n = 0;
    for (const p of PRIORITIES) {
      if (PRIORITY_RANK[p] > PRIORITY_RANK[priority]) break;
      for (const line of this.tenants[p].values()) n += line.length;
    }
    return n;
  }

  /** The waiter the next free slot goes to, or undefined when every waiter's tenant is at its limit. */
  next(held: HeldBy): Waiter | undefined {
    for (const priority of PRIORITIES) {
      let best: Waiter | undefined;
      let bestHeld = Number.POSITIVE_INFINITY;
      for (const [tenant, line] of this.tenants[priority]) {
        const head = line[0];
        const holds = held(tenant);
        if (!head || holds >= head.tenantLimit) continue;
        if (holds < bestHeld || (holds === bestHeld && best !== undefined && head.seq < best.seq)) {
          best = head;
          bestHeld = holds;
        }
      }
      if (best) return best;
    }
    return undefined;
  }

  /**
   * Who is shed when the queue is full and `newcomer` arrives: the least important of everyone waiting
   * and the newcomer — lowest priority, then background before interactive (it tolerates a retry
   * best), then the tenant with the most waiters, then the latest arrival. May be the newcomer itself.
   */
  victimFor(newcomer: Waiter): Waiter {
    let victim = newcomer;
    const lowest = [...PRIORITIES].reverse();
    for (const priority of lowest) {
      if (PRIORITY_RANK[priority] < PRIORITY_RANK[victim.priority]) break;
      for (const line of this.tenants[priority].values()) {
        for (const waiter of line) {
          if (shedsBefore(waiter, victim, (t) => this.queuedFor(t))) victim = waiter;
        }
      }
    }
    return victim;
  }
}

/** Whether `a` should be shed before `b`. */
export function shedsBefore(a: Waiter, b: Waiter, queuedFor: (tenant: string) => number): boolean {
  if (a.priority !== b.priority) return PRIORITY_RANK[a.priority] > PRIORITY_RANK[b.priority];
  if (a.latency !== b.latency) return a.latency === "background";
  const aQueued = queuedFor(a.tenant);
  const bQueued = queuedFor(b.tenant);
  if (aQueued !== bQueued) return aQueued > bQueued;
  return a.seq > b.seq;
}
