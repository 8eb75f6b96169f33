import type { Spender } from "../ledger/entry";

/**
 * Countable budgets of a tenant (and of each managed key): requests and tokens per UTC minute, dollars
 * per UTC day and per UTC calendar month. Each is a counter of one window, owned by the tenant's
 * {@link import("./spend-authority").SpendAuthority} and lent to isolates in blocks (the
 * `BudgetLease` shape of admission/budget.ts). Pure: windows, block sizes, header values.
 */
export type BudgetKind = "requests" | "tokens" | "usd-day" | "usd-month";

/** Floating-point slack when comparing dollar sums with a limit. */
export const EPSILON = 1e-9;

export interface Window {
  start: number;
  end: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The UTC window of `kind` that holds `now`. */
export function windowOf(kind: BudgetKind, now: number): Window {
  if (kind === "requests" || kind === "tokens") {
    const start = now - (now % MINUTE_MS);
    return { start, end: start + MINUTE_MS };
  }
  if (kind === "usd-day") {
    const start = now - (now % DAY_MS);
    return { start, end: start + DAY_MS };
  }
  const date = new Date(now);
  return {
    start: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1),
    end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
  };
}

/** A counter's scope, from its name (`<scope>:<kind>`, made by enforce.ts's `needsOf`). */
export function scopeOf(counter: string): string {
  return counter.slice(0, counter.lastIndexOf(":"));
}

/** Whose spend a counter counts: the tenant's (`tenant`), an end user's (`user:<id>`), or a key's (its id). */
export function spenderOf(counter: string): Spender {
  const scope = scopeOf(counter);
  if (scope === "tenant") return {};
  return scope.startsWith("user:") ? { endUser: scope.slice("user:".length) } : { keyId: scope };
}

/** Requests and tokens count whole units; dollars do not. */
export function isWhole(kind: BudgetKind): boolean {
  return kind === "requests" || kind === "tokens";
}

/** One counter's part of a call to the authority. */
export interface CounterAsk {
  /** `<scope>:<kind>`, scope being `tenant` or a key id. */
  counter: string;
  kind: BudgetKind;
  window: number;
  windowEnd: number;
  limit: number;
  /** Units handed back: spare (positive), or a debt (negative: real usage beyond what was reserved). */
  give: number;
  /** Units the request needs now; the call is refused, granting nothing, if any counter cannot cover its need. */
  need: number;
  /** Spare units the holder would like to keep for later requests (its block). */
  want: number;
  /**
   * Units lent to the holder that it has not spent, once this call's `give` is counted (its spare, and
   * what its requests in flight reserved): reported so a refusal can tell reserved from spent.
   */
  unspent?: number;
}

export interface CounterState {
  counter: string;
  granted: number;
  /** Units the authority counts for the window after this call (spent, plus out on lease). */
  used: number;
}

export type SpendAnswer =
  | { ok: true; counters: CounterState[] }
  | { ok: false; counters: CounterState[]; refused: Refused };

/** The counter that refused a call, and what other holders reported lent to them and not spent. */
export interface Refused {
  counter: string;
  kind: BudgetKind;
  limit: number;
  unspentElsewhere?: number;
}

/**
 * Spare units to lend beside a need: at most half of what stays free, so holders with equal demand
 * settle on equal blocks and the last units of a window are never all parked in one isolate.
 */
export function spareToLend(kind: BudgetKind, free: number, want: number): number {
  const spare = Math.max(0, Math.min(want, free / 2));
  return isWhole(kind) ? Math.floor(spare) : spare;
}

/** A holder's block size for a limit: `lease` of it, whole for whole units. */
export function blockSize(kind: BudgetKind, limit: number, lease: number): number {
  const size = limit * lease;
  return isWhole(kind) ? Math.ceil(size) : size;
}

/**
 * A duration as OpenAI's `x-ratelimit-reset-*` headers write it (Go's duration form): `12ms`, `1s`,
 * `1.5s`, `6m0s`, `1h2m3s`.
 */
export function resetDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < 1_000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1_000;
  const secondsText = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${secondsText}`;
  if (minutes > 0) return `${minutes}m${secondsText}`;
  return secondsText;
}
