import type { PoolSpec } from "../config/policy";
import type { Priority } from "../config/tenants";
import type { PoolGate } from "./pool-gate";
import { gateName, shareOf } from "./shards";

export interface GateView {
  gate: string;
  ceiling: number;
  /** The effective limit: the adaptive value, or the ceiling when static or not yet used. */
  limit: number;
  inFlight: number;
  queued: number;
  queuedBy: Record<Priority, number>;
  drainPerS: number;
  /** Leases and blocks the alarm swept since the gate last started: Workers that died holding them. */
  expired: number;
  /** Permits out on blocks in isolates, in use or spare (part of `inFlight`), and how many isolates hold one. */
  lent: number;
  blocks: number;
  /** Calls the gate answered since it last started. */
  calls: number;
}

export interface PoolView {
  pool: string;
  ceiling: number;
  limit: number;
  inFlight: number;
  queued: number;
  adaptive: boolean;
  shards: GateView[];
}

/** A pool's admission state, gathered from each of its gates. */
export async function poolStatus(
  namespace: DurableObjectNamespace<PoolGate>,
  pool: string,
  spec: PoolSpec,
): Promise<PoolView> {
  const { shards, adaptive } = spec.admission;
  const gates = await Promise.all(
    Array.from({ length: shards }, async (_, index): Promise<GateView> => {
      const gate = gateName(pool, index);
      const ceiling = shareOf(spec.concurrency, shards, index);
      const status = await namespace.getByName(gate).status();
      // A gate told a different ceiling than the policy now in force has not served a request since.
      const limit = status.ceiling === null || !adaptive ? ceiling : Math.min(status.limit, ceiling);
      return {
        gate,
        ceiling,
        limit,
        inFlight: status.inFlight,
        queued: status.queued,
        queuedBy: status.queuedBy,
        drainPerS: status.drainPerS,
        expired: status.expired,
        lent: status.lent,
        blocks: status.blocks,
        calls: status.calls,
      };
    }),
  );
  const sum = (field: "limit" | "inFlight" | "queued") => gates.reduce((n, g) => n + g[field], 0);
  return {
    pool,
    ceiling: spec.concurrency,
    limit: sum("limit"),
    inFlight: sum("inFlight"),
    queued: sum("queued"),
    adaptive,
    shards: gates,
  };
}
