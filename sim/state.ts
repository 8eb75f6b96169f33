import { Capacity } from "./capacity";
import { createRng, type Rng } from "./hash";
import type { FaultSpec, SimOptions } from "./options";
import { PrefixCache } from "./prefix-cache";
import { emptyStats, type SimStats } from "./stats";

/** Mutable state of one simulator instance. */
export interface SimState {
  /** The options it was created with; reset() returns to them. */
  readonly initial: SimOptions;
  options: SimOptions;
  /** Replaced (not cleared) on reset, so responses still running count into the stats they started in. */
  stats: SimStats;
  readonly capacity: Capacity;
  readonly cache: PrefixCache;
  /** Spend per API key, in the configured currency. */
  readonly spent: Map<string, number>;
  faultRng: Rng;
  /** Remaining scripted faults (a copy of options.faultScript, consumed one per request). */
  script: FaultSpec[];
}

export function createState(options: SimOptions): SimState {
  const state: SimState = {
    initial: options,
    options,
    stats: emptyStats(),
    capacity: new Capacity(() => state.options.concurrency),
    cache: new PrefixCache(),
    spent: new Map(),
    faultRng: createRng(options.seed),
    script: [...options.faultScript],
  };
  return state;
}

export function resetState(state: SimState): void {
  state.options = state.initial;
  state.stats = emptyStats();
  state.cache.clear();
  state.spent.clear();
  state.faultRng = createRng(state.initial.seed);
  state.script = [...state.initial.faultScript];
  state.capacity.resetPeak();
  state.capacity.pump();
}

/** Balance left for `key`. */
export function balanceOf(state: SimState, key: string): number {
  return state.options.balance - (state.spent.get(key) ?? 0);
}
