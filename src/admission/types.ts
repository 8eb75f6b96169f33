import type { LatencyClass } from "../classify/classify";
import type { Priority } from "../config/tenants";
import type { AttemptOutcome } from "./step-gate";

/** Why a request was refused a slot; each is a `429` code the caller sees. */
export type ShedReason = "pool_saturated" | "tenant_concurrency_limit" | "queue_timeout";

/** What a gate is told with every call; it adopts the latest (a policy change reaches it this way). */
export interface GateLimits {
  /** This gate's share of the pool's concurrency ceiling; the adaptive limit never exceeds it. */
  ceiling: number;
  /** Waiters this gate holds at most, all priorities together. */
  maxQueue: number;
  /** A lease not renewed within this long is presumed dead and swept. */
  leaseTtlMs: number;
  /** Learn the upstream's real capacity below the ceiling (AIMD); off means a static limit. */
  adaptive: boolean;
}

export interface AcquireRequest {
  /** Chosen by the Worker, so it can cancel a wait or release a grant it never heard back about. */
  leaseId: string;
  tenant: string;
  priority: Priority;
  latency: LatencyClass;
  /** This gate's share of the tenant's concurrency limit; absent when the tenant has none. */
  tenantLimit?: number;
  /** How long the request may wait for a slot; 0 sheds it at once when there is none. */
  waitMs: number;
  limits: GateLimits;
}

/** A gate's load as its callers see it: enough for power-of-two-choices between shards. */
export interface GateLoad {
  /** Permits out: single leases plus the units of isolates' blocks, spare ones included. */
  inFlight: number;
  queued: number;
  /** The effective (adaptive) limit. */
  limit: number;
}

export type AcquireResult =
  | { granted: true; expiresAt: number; load: GateLoad }
  | { granted: false; reason: ShedReason; retryAfterMs: number; load: GateLoad };

/** A held lease, as the Worker renews it (enough to re-register it if the gate lost it). */
export interface LeaseRef {
  leaseId: string;
  tenant: string;
  priority: Priority;
}

export type ReleaseOutcome = AttemptOutcome;

export interface GateStatus extends GateLoad {
  ceiling: number | null;
  adaptive: boolean;
  queuedBy: Record<Priority, number>;
  /** Leases held per tenant. */
  tenants: Record<string, number>;
  /** Slots freed per second over the last ten seconds: the basis of Retry-After. */
  drainPerS: number;
  /** Leases and blocks the alarm swept since the object started: Workers that died holding them. */
  expired: number;
  /** Permits out on block leases in isolates (in use or spare); part of `inFlight`. */
  lent: number;
  /** Isolates holding a block. */
  blocks: number;
  /** Calls the gate answered since the object started. */
  calls: number;
}
