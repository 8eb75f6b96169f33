import type { Policy, PoolSpec } from "../config/policy";
import type { PoolAvailability } from "./plan";
import { targetState } from "./target-state";

/** A pool is available while at least one of its targets' circuits is not open. */
export function poolHasTarget(poolName: string, pool: PoolSpec | undefined, now: number): boolean {
  return (pool?.targets ?? []).some((target) => targetState(poolName, target).state(now) !== "open");
}

export function poolAvailability(policy: Policy, now: number): PoolAvailability {
  return (poolName) => poolHasTarget(poolName, policy.pools[poolName], now);
}
