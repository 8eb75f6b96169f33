import type { PoolSpec, TargetSpec } from "../config/policy";
import type { TargetState } from "./target-state";

export type Candidate = { target: TargetSpec; state: TargetState };

/**
 * Picks a target of a pool among those whose breaker admits a request now (the caller filters).
 * - weighted: random in proportion to weight;
 * - least-inflight: fewest requests in flight from this isolate, weight breaking ties;
 * - latency: power of two choices, two weighted-random picks, keep the one with the lower expected
 *   wait (EWMA time to first token × (in flight + 1)); an unmeasured target counts as fast so it gets
 *   measured.
 */
export function selectTarget(
  strategy: PoolSpec["selection"],
  candidates: readonly Candidate[],
  random: () => number,
): Candidate | undefined {
  if (candidates.length <= 1) return candidates[0];
  switch (strategy) {
    case "weighted":
      return weightedPick(candidates, random);
    case "least-inflight":
      return candidates.reduce((best, next) =>
        next.state.inFlight < best.state.inFlight ||
        (next.state.inFlight === best.state.inFlight && next.target.weight > best.target.weight)
          ? next
          : best,
      );
    case "latency": {
      const first = weightedPick(candidates, random);
      const rest = candidates.filter((candidate) => candidate !== first);
      const second = weightedPick(rest, random);
      if (!first || !second) return first ?? second;
      return expectedWait(second) < expectedWait(first) ? second : first;
    }
  }
}

function expectedWait(candidate: Candidate): number {
  return (candidate.state.ewmaTtftMs ?? 0) * (candidate.state.inFlight + 1);
}

function weightedPick(candidates: readonly Candidate[], random: () => number): Candidate | undefined {
  const total = candidates.reduce((sum, candidate) => sum + candidate.target.weight, 0);
  let roll = random() * total;
  for (const candidate of candidates) {
    roll -= candidate.target.weight;
    if (roll < 0) return candidate;
  }
  return candidates.at(-1);
}
