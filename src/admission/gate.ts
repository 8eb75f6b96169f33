import type { LatencyClass } from "../classify/classify";
import type { Policy, PoolSpec } from "../config/policy";
import type { Priority, Tenant } from "../config/tenants";
import { RouterError } from "../errors";
import { parseWholeNumber, retryAfter } from "../headers";
import type { PlanStep } from "../routing/plan";
import { BlockHolder, IDLE_RETURN_MS, type Lend } from "./block-holder";
import type { PoolGate } from "./pool-gate";
import { gateName, pickShard, shareOf, tenantShareOf } from "./shards";
import { type AttemptOutcome, OPEN_GATE, type StepGate, type StepPass } from "./step-gate";
import type { AcquireRequest, AcquireResult, GateLimits, GateLoad, LeaseRef } from "./types";

/** Who is asking, as admission needs to know it. */
export interface Admittee {
  tenant: Pick<Tenant, "id" | "concurrency">;
  priority: Priority;
  latency: LatencyClass;
  /** `x-router-max-wait-ms`, validated; otherwise the pool's wait for the latency class applies. */
  maxWaitMs?: number;
  /** The request's deadline: no wait outlasts it. */
  totalAt: number;
}

/** A stream still waiting for a slot after this long is committed (200, then keep-alives). */
export const COMMIT_QUEUED_AFTER_MS = 1_000;

/** A step has been waiting in a queue for {@link COMMIT_QUEUED_AFTER_MS}. */
export interface QueuedNotice {
  step: PlanStep;
  waitedMs: number;
}

export const MAX_WAIT_HEADER = "x-router-max-wait-ms";
const MAX_WAIT_LIMIT_MS = 3_600_000;

/** `x-router-max-wait-ms`: whole milliseconds, 0 meaning "do not queue me". */
export function parseMaxWait(header: string | undefined): number | undefined {
  return parseWholeNumber(MAX_WAIT_HEADER, header, { min: 0, max: MAX_WAIT_LIMIT_MS });
}

/** How long a request may wait at `pool`: its own ask (capped at the pool's longest wait) or its class's. */
export function waitBudgetMs(pool: PoolSpec, admittee: Admittee, now: number): number {
  const { maxWaitMs } = pool.admission;
  const wanted =
    admittee.maxWaitMs === undefined
      ? maxWaitMs[admittee.latency]
      : Math.min(admittee.maxWaitMs, Math.max(maxWaitMs.interactive, maxWaitMs.background));
  return Math.max(0, Math.min(wanted, admittee.totalAt - now));
}

/** What this isolate last heard from each gate: the loads power-of-two-choices compares. */
const lastLoad = new Map<string, GateLoad>();
/** This isolate's block of permits from each gate. */
const holders = new Map<string, BlockHolder>();

/**
 * Admission for one request, per plan step: a permit from this isolate's block of the pool's gate when
 * one is spare (no round trip), otherwise a lease from the gate itself. A step that is not the plan's
 * last never queues (a full pool sheds it at once, so the plan moves on to its fallback); the last
 * step waits up to its budget. A gate that cannot be reached is never taken for a grant.
 *
 * Requests of a tenant with its own concurrency limit always go to the gate, which counts leases per
 * tenant; blocks are not split by tenant, so spending one would bypass that count.
 */
export class PoolGates implements StepGate {
  /** Resolves once a step has waited {@link COMMIT_QUEUED_AFTER_MS} for a slot. */
  readonly queued: Promise<QueuedNotice>;
  private notifyQueued: (notice: QueuedNotice) => void = () => {};
  /** Time already spent waiting at gates: the wait budget is the request's, across retries and steps. */
  private waitedMs = 0;

  constructor(
    private readonly namespace: DurableObjectNamespace<PoolGate>,
    private readonly policy: Policy,
    private readonly admittee: Admittee,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.queued = new Promise((resolve) => {
      this.notifyQueued = resolve;
    });
  }

  async enter(step: PlanStep, lastStep: boolean, signal: AbortSignal): Promise<StepPass> {
    const pool = this.policy.pools[step.pool] as PoolSpec;
    if (!pool.admission.enabled) return OPEN_GATE.enter(step, lastStep, signal);
    const { shards } = pool.admission;
    const loads = Array.from({ length: shards }, (_, i) => lastLoad.get(gateName(step.pool, i)));
    const index = pickShard(loads, this.random);
    const name = gateName(step.pool, index);
    const concurrency = this.admittee.tenant.concurrency;
    const limits = limitsOf(pool, shards, index);
    const holder = concurrency === undefined ? holderFor(pool, name) : undefined;
    const startedAt = this.now();
    if (holder?.take(startedAt)) return this.blockPass(holder, name, limits);
    const request: AcquireRequest = {
      leaseId: crypto.randomUUID(),
      tenant: this.admittee.tenant.id,
      priority: this.admittee.priority,
      latency: this.admittee.latency,
      tenantLimit: concurrency === undefined ? undefined : tenantShareOf(concurrency, shards, index),
      waitMs: lastStep ? Math.max(0, waitBudgetMs(pool, this.admittee, startedAt) - this.waitedMs) : 0,
      limits,
    };
    let result: AcquireResult;
    try {
      result = await this.acquire(name, request, step, signal);
    } finally {
      this.waitedMs += this.now() - startedAt;
    }
    lastLoad.set(name, result.load);
    if (holder) {
      holder.observe(result.load);
      if (result.granted) holder.begin(this.now());
      this.sync(holder, name, limits);
    }
    if (!result.granted) throw shedError(result, step.pool, request, this.admittee.tenant);
    return this.pass(name, request, this.now() - startedAt, holder);
  }

  /**
   * A permit from this isolate's block: no round trip. Its release returns it to the block (or, under
   * pressure, to the gate); long answers keep the block renewed while they run.
   */
  private blockPass(holder: BlockHolder, name: string, limits: GateLimits): StepPass {
    const takenAt = this.now();
    this.sync(holder, name, limits);
    const heartbeat = setInterval(() => this.sync(holder, name, limits), holder.ttlMs / 3);
    let released = false;
    return {
      queuedMs: 0,
      release: (outcome) => {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        holder.put(outcome, this.now() - takenAt);
        this.settle(holder, name, limits);
      },
    };
  }

  /** After a permit of this isolate's comes back: the gate hears what is due, and idle spare goes home. */
  private settle(holder: BlockHolder, name: string, limits: GateLimits): void {
    this.sync(holder, name, limits);
    if (!holder.idle()) return;
    const check = new Promise((resolve) => setTimeout(resolve, IDLE_RETURN_MS)).then(() => {
      holder.returnIfIdle(this.now());
      return holder.sync(this.lend(name, limits), this.now);
    });
    this.waitUntil(check);
  }

  /** The holder's call to the gate, if one is due, sent off the request path. */
  private sync(holder: BlockHolder, name: string, limits: GateLimits): void {
    const call = holder.sync(this.lend(name, limits), this.now);
    if (call) this.waitUntil(call);
  }

  /** A stub made in the calling request's context: an I/O object must not outlive its request. */
  private lend(name: string, limits: GateLimits): Lend {
    return async (request) => {
      const answer = await this.namespace.getByName(name).lend(request, limits);
      lastLoad.set(name, answer.load);
      return answer;
    };
  }

  private async acquire(
    name: string,
    request: AcquireRequest,
    step: PlanStep,
    signal: AbortSignal,
  ): Promise<AcquireResult> {
    signal.throwIfAborted();
    const startedAt = this.now();
    const notice =
      request.waitMs > COMMIT_QUEUED_AFTER_MS
        ? setTimeout(
            () => this.notifyQueued({ step, waitedMs: this.now() - startedAt }),
            COMMIT_QUEUED_AFTER_MS,
          )
        : undefined;
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        // Withdraws the waiter, or frees a grant that raced the abort; a no-op if neither exists.
        this.waitUntil(this.releaseLease(name, request.leaseId, { kind: "abandoned" }));
        reject(signal.reason);
      };
    });
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([this.call(name, request, step.pool, startedAt), aborted]);
    } finally {
      clearTimeout(notice);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * One acquire, retried once on a fresh stub if the call fails (the object was evicted or restarted
   * mid-call). The retry is safe because the lease id is the same: a grant that was persisted before
   * the failure is handed back, and nothing is granted twice.
   */
  private async call(name: string, request: AcquireRequest, pool: string, startedAt: number) {
    try {
      return await this.namespace.getByName(name).acquire(request);
    } catch (error) {
      if (isOverloaded(error)) return overloadedShed();
      try {
        const waitMs = Math.max(0, request.waitMs - (this.now() - startedAt));
        return await this.namespace.getByName(name).acquire({ ...request, waitMs });
      } catch (again) {
        this.waitUntil(this.releaseLease(name, request.leaseId, { kind: "abandoned" }));
        if (isOverloaded(again)) return overloadedShed();
        throw new RouterError(
          "admission_unavailable",
          `Admission control for pool '${pool}' is unreachable; retry shortly.`,
          { headers: retryAfter(1_000), cause: again },
        );
      }
    }
  }

  /** The granted lease: renewed every third of its TTL while held, released exactly once. */
  private pass(
    name: string,
    request: AcquireRequest,
    queuedMs: number,
    holder: BlockHolder | undefined,
  ): StepPass {
    const ref: LeaseRef = { leaseId: request.leaseId, tenant: request.tenant, priority: request.priority };
    const ttl = request.limits.leaseTtlMs;
    // Some failures break a stub for good, so a failed renewal gets a fresh one for the next beat.
    let stub = this.namespace.getByName(name);
    const heartbeat = setInterval(() => {
      stub.renew(ref, ttl).catch((error: unknown) => {
        stub = this.namespace.getByName(name);
        console.warn(JSON.stringify({ event: "lease_renew_failed", gate: name, error: String(error) }));
      });
    }, ttl / 3);
    let released = false;
    return {
      queuedMs,
      release: (outcome) => {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        this.waitUntil(this.releaseLease(name, request.leaseId, outcome, stub));
        if (holder) {
          holder.end();
          this.settle(holder, name, request.limits);
        }
      },
    };
  }

  /** Never rejects: a release that cannot be delivered is left to the lease's expiry. */
  private async releaseLease(
    name: string,
    leaseId: string,
    outcome: AttemptOutcome,
    stub: DurableObjectStub<PoolGate> = this.namespace.getByName(name),
  ): Promise<void> {
    try {
      lastLoad.set(name, await stub.release(leaseId, outcome));
    } catch {
      try {
        lastLoad.set(name, await this.namespace.getByName(name).release(leaseId, outcome));
      } catch (error) {
        console.error(JSON.stringify({ event: "lease_release_failed", gate: name, error: String(error) }));
      }
    }
  }
}

/** What a gate is told with every call: its share of the pool's ceiling and queue, and the pool's settings. */
function limitsOf(pool: PoolSpec, shards: number, index: number): GateLimits {
  return {
    ceiling: shareOf(pool.concurrency, shards, index),
    maxQueue: Math.ceil(pool.admission.maxQueue / shards),
    leaseTtlMs: pool.admission.leaseTtlMs,
    adaptive: pool.admission.adaptive,
  };
}

/** This isolate's holder for gate `name`, or none when the pool does not lease blocks. */
function holderFor(pool: PoolSpec, name: string): BlockHolder | undefined {
  const { leaseBlocks, blockTtlMs } = pool.admission;
  if (!leaseBlocks) return undefined;
  let holder = holders.get(name);
  if (!holder) {
    holder = new BlockHolder(name, blockTtlMs);
    holders.set(name, holder);
  }
  holder.ttlMs = blockTtlMs;
  return holder;
}

function isOverloaded(error: unknown): boolean {
  return (
    typeof error === "object" && error !== null && (error as { overloaded?: unknown }).overloaded === true
  );
}

/** An overloaded gate must not be retried (that deepens the overload): shed, briefly. */
function overloadedShed(): AcquireResult {
  return {
    granted: false,
    reason: "pool_saturated",
    retryAfterMs: 1_000,
    load: { inFlight: 0, queued: 0, limit: 0 },
  };
}

/** The caller's 429: which limit refused it, and when to come back (the gate's drain-rate estimate). */
export function shedError(
  result: Extract<AcquireResult, { granted: false }>,
  pool: string,
  request: AcquireRequest,
  tenant: Pick<Tenant, "id" | "concurrency">,
): RouterError {
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  const retry = ` Retry after ${seconds} s.`;
  const { load } = result;
  const messages = {
    pool_saturated:
      load.limit === 0
        ? `Admission control for pool '${pool}' is overloaded.`
        : `Pool '${pool}' is saturated: all ${load.limit} concurrency slots are in use` +
          (request.waitMs > 0 ? ` and its queue of ${load.queued} is full.` : "."),
    tenant_concurrency_limit: `Tenant '${tenant.id}' already has its limit of ${tenant.concurrency ?? "?"} requests in flight in pool '${pool}'.`,
    queue_timeout: `No concurrency slot in pool '${pool}' became free within the ${request.waitMs} ms this request may wait.`,
  } as const;
  return new RouterError(result.reason, messages[result.reason] + retry, {
    headers: retryAfter(result.retryAfterMs),
  });
}
