import type { AttemptOutcome } from "./step-gate";

/**
 * A lease of a countable budget: `units` of budget `budget`, lent by the Durable Object `authority` to
 * one holder (an isolate), which spends them locally with no round trip and gives back what it does
 * not use. Good until `expiresAt`, on the holder's own clock and early (see {@link holderExpiry}), so
 * the holder stops before the authority could think the lease is gone.
 *
 * Concurrency permits are the first budget lent this way; requests per minute, tokens per minute and
 * dollars are the same shape (units that an authority counts as spent until returned or expired).
 * What the authority has out on lease counts as spent, so the sum of grants never exceeds its limit:
 * the overshoot bound is the units out on lease whose holder cannot reach the authority for a TTL.
 */
export interface BudgetLease {
  /** Chosen by the holder and kept for its life, so a renewal, a resize and a return name one lease. */
  id: string;
  authority: string;
  budget: "concurrency";
  units: number;
  expiresAt: number;
}

/** One permit of a lease that was spent and is now back, with how its attempt went (the adaptive limit learns from it). */
export interface SpentPermit {
  outcome: AttemptOutcome;
  /** How long the permit was held: the authority dates the grant from it, on its own clock. */
  heldMs: number;
}

/**
 * A holder's call to the authority: renew its lease and resize it to `want` units, keeping at least
 * `keep`. Shrinking is the holder's move and is done locally first (it stops spending what it gives
 * back, then says so), growing is the authority's (it counts the units before it answers). So the
 * authority's count is never below what the holder may spend, in either direction.
 */
export interface LendRequest {
  leaseId: string;
  /** Units the holder still holds and may spend (in use, plus spare it is not giving back). */
  keep: number;
  /** Units it would like to hold, from its recent demand; `want < keep` is read as `keep`. */
  want: number;
  /** Of `keep`, the permits its requests hold right now: real use, not spare. */
  inUse: number;
  /** Permits spent since its last call. */
  spent: SpentPermit[];
  ttlMs: number;
}

export interface LendAnswer {
  /** The lease as the authority now counts it; 0 units means it is gone (returned, or none lent). */
  units: number;
  /**
   * The pool is near saturation (waiters queue, or its free permits are down to the reserve): the
   * holder must stop spending spare units and send each request, and each freed permit, to the
   * authority, where priority and fair share are decided.
   */
  pressure: boolean;
  /** When the holder should call again while it spends: sooner as the pool fills ({@link renewalMs}). */
  renewInMs: number;
}

/** Permits never lent out, kept for requests that come to the authority itself: 1/8 of the limit. */
export const RESERVE_SHARE = 1 / 8;

/** The permits a limit keeps back from lending. */
export function reserveOf(limit: number): number {
  return Math.max(1, Math.ceil(limit * RESERVE_SHARE));
}

/** What the authority sees when it decides a lease's size. */
export interface LendingState {
  /** Its effective (adaptive) limit. */
  limit: number;
  /** Permits out elsewhere: single leases and every other lease's units. */
  usedElsewhere: number;
  queued: number;
}

/**
 * Units a lease may hold after a lend call. Never fewer than `keep` (those are in the holder's hands
 * and are counted until given back: a re-registration may even exceed the limit, because the count
 * must match what is really in flight). Spare units beyond what the holder has in use are lent only
 * with nobody waiting, never out of the reserve, and at most half of what is free above it, so
 * holders with equal demand settle on equal blocks and lending dries up as the pool nears
 * saturation: the spare out on lease is at most `limit − reserve − used`, and the authority's own
 * requests still find the reserve.
 */
export function unitsToLend(
  state: LendingState,
  { keep, want, inUse }: Pick<LendRequest, "keep" | "want" | "inUse">,
): number {
  if (state.queued > 0) return keep;
  const free = state.limit - reserveOf(state.limit) - state.usedElsewhere - inUse;
  const spare = Math.min(want - inUse, Math.floor(free / 2));
  return Math.max(keep, inUse + Math.max(0, spare));
}

/** Whether the authority should tell holders to stop spending locally. */
export function underPressure(state: LendingState, lent: number): boolean {
  return state.queued > 0 || state.usedElsewhere + lent >= state.limit - reserveOf(state.limit);
}

/** How often a busy holder checks in once the pool is more than half used. */
export const BUSY_RENEWAL_MS = 100;

/**
 * How long a holder may spend before it calls again. While less than 3/4 of the limit is out (spare
 * included), a third of the TTL: the renewal a lease needs anyway. Past that, spare parked in one
 * isolate may be what another isolate's request is about to queue for at the gate, so busy holders
 * check in every {@link BUSY_RENEWAL_MS}, and give their spare back once the gate says pressure.
 */
export function renewalMs(limit: number, used: number, ttlMs: number): number {
  return used * 4 >= limit * 3 ? Math.min(BUSY_RENEWAL_MS, ttlMs / 3) : ttlMs / 3;
}

/**
 * When a holder stops spending a lease: a tenth of the TTL before the authority's expiry, measured
 * from when the holder *sent* its call (the authority counted from when it received it, later). Both
 * sides read only their own clocks, so skew between machines does not matter; only rate drift does,
 * and the margin covers that.
 */
export function holderExpiry(sentAt: number, ttlMs: number): number {
  return sentAt + ttlMs * 0.9;
}
