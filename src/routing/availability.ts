import type { Policy } from "../config/policy";
import type { PoolAvailability } from "./plan";
import { targetState } from "./target-state";

/** A pool is available while at least one of its targets' circuits is not open. */
export function poolAvailability(policy: Policy, now: number): PoolAvailability {
  return (poolName) =>
    (policy.pools[poolName]?.targets ?? []).some(
      (target) => targetState(poolName, target).state(now) !== "open",
    );
}
