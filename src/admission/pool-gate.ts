import { DurableObject } from "cloudflare:workers";
import type { Priority } from "../config/tenants";
import { DrainRate, retryAfterMs, tenantDrainPerSecond } from "./drain";
import { type AdaptiveLimit, effectiveLimit, initialLimit, observeOutcome, type Released } from "./limit";
import { type Waiter, WaitQueue } from "./queue";
import type {
  AcquireRequest,
  AcquireResult,
  GateLimits,
  GateLoad,
  GateStatus,
  LeaseRef,
  ReleaseOutcome,
  ShedReason,
} from "./types";

interface Lease {
  id: string;
  tenant: string;
  priority: Priority;
  grantedAt: number;
  expiresAt: number;
}

/** A waiter's open `acquire` call, answered when it is granted, shed or cancelled. */
interface Parked {
  waiter: Waiter;
  request: AcquireRequest;
  result: Promise<AcquireResult>;
  answer(result: AcquireResult): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Released lease ids remembered, so a heartbeat or a late acquire that crosses a release is ignored. */
const RELEASED_MEMORY = 4_096;

/**
 * One per pool shard: the concurrency leases of every Worker in the fleet for that pool.
 *
 * What survives eviction lives in SQLite and is written before any answer leaves (the output gate
 * holds the reply until the write is durable): every granted lease with its expiry, the adaptive limit
 * and the last limits callers sent. So a restarted object reloads exactly the leases it granted — it
 * loses no capacity and cannot grant a slot twice — and a Worker that retries `acquire` with the same
 * lease id gets its existing lease back. Waiters live only in memory: eviction fails their open calls,
 * which the Worker treats as "not granted" (it retries once, then sheds), never as a lease.
 *
 * Leases expire unless renewed (the Worker heartbeats long streams); the alarm sweeps expired ones, so
 * a Worker that dies mid-stream frees its slot within one TTL. The decisions are pure modules
 * (queue, limit, drain); this class only keeps their state and does the I/O.
 */
export class PoolGate extends DurableObject<Env> {
  private readonly leases = new Map<string, Lease>();
  private readonly heldByTenant = new Map<string, number>();
  private readonly queue = new WaitQueue();
  private readonly parked = new Map<string, Parked>();
  private readonly released = new Set<string>();
  private readonly drain = new DrainRate();
  private limits: GateLimits | undefined;
  private limit: AdaptiveLimit | undefined;
  private alarmAt: number | null = null;
  private seq = 0;
  private expired = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS leases (
      id TEXT PRIMARY KEY, tenant TEXT NOT NULL, priority TEXT NOT NULL, granted_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL)`);
    sql.exec("CREATE TABLE IF NOT EXISTS gate (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const rows = sql.exec<{
      id: string;
      tenant: string;
      priority: string;
      granted_at: number;
      expires_at: number;
    }>("SELECT id, tenant, priority, granted_at, expires_at FROM leases");
    for (const row of rows) {
      this.hold({
        id: row.id,
        tenant: row.tenant,
        priority: row.priority as Priority,
        grantedAt: row.granted_at,
        expiresAt: row.expires_at,
      });
    }
    this.limits = this.loadState<GateLimits>("limits");
    this.limit = this.loadState<AdaptiveLimit>("limit");
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** A lease now; a place in the queue answered when a slot frees or the wait ends; or a refusal. */
  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const now = Date.now();
    this.configure(request.limits);
    if (this.alarmAt !== null && now >= this.alarmAt) this.sweep(now);
    this.pump(now);
    const existing = this.leases.get(request.leaseId);
    if (existing) return { granted: true, expiresAt: existing.expiresAt, load: this.load() };
    const parked = this.parked.get(request.leaseId);
    if (parked) return parked.result;

    const waiter: Waiter = {
      id: request.leaseId,
      tenant: request.tenant,
      priority: request.priority,
      latency: request.latency,
      tenantLimit: request.tenantLimit ?? Number.POSITIVE_INFINITY,
      seq: this.seq++,
    };
    if (this.released.has(request.leaseId)) return this.refusal(waiter, now, "pool_saturated");
    if (this.hasRoom(waiter)) return this.grant(request, now);
    if (request.waitMs <= 0 || request.limits.maxQueue <= 0)
      return this.refusal(waiter, now, "pool_saturated");
    if (this.queue.size >= request.limits.maxQueue) {
      const victim = this.queue.victimFor(waiter);
      if (victim === waiter) return this.refusal(waiter, now, "pool_saturated");
      this.answerParked(victim.id, () => this.refusal(victim, now, "pool_saturated"));
    }
    return this.park(waiter, request);
  }

  /**
   * Extends a held lease. A lease the gate no longer has (swept after missed heartbeats, while its
   * stream in fact still runs) is registered again, even over the limit: the gate's count must match
   * what is really in flight upstream. Returns whether the lease was still held.
   */
  async renew(ref: LeaseRef, leaseTtlMs: number): Promise<boolean> {
    if (this.released.has(ref.leaseId)) return false;
    const now = Date.now();
    const expiresAt = now + leaseTtlMs;
    const lease = this.leases.get(ref.leaseId);
    if (lease) {
      lease.expiresAt = expiresAt;
      this.ctx.storage.sql.exec("UPDATE leases SET expires_at = ? WHERE id = ?", expiresAt, ref.leaseId);
      return true;
    }
    this.store({ id: ref.leaseId, tenant: ref.tenant, priority: ref.priority, grantedAt: now, expiresAt });
    return false;
  }

  /** Frees a lease, or withdraws a waiter; idempotent. The outcome teaches the adaptive limit. */
  async release(leaseId: string, outcome: ReleaseOutcome): Promise<GateLoad> {
    const now = Date.now();
    const lease = this.leases.get(leaseId);
    this.remember(leaseId);
    if (lease) {
      const inFlight = this.leases.size;
      this.drop(lease);
      this.drain.record(now);
      this.adapt({ outcome, grantedAt: lease.grantedAt, inFlight }, now);
      this.pump(now);
    } else {
      const parked = this.parked.get(leaseId);
      if (parked) this.answerParked(leaseId, (p) => this.refusal(p.waiter, now, "pool_saturated"));
    }
    return this.load();
  }

  async status(): Promise<GateStatus> {
    const tenants: Record<string, number> = {};
    for (const [tenant, count] of this.heldByTenant) tenants[tenant] = count;
    return {
      ...this.load(),
      ceiling: this.limits?.ceiling ?? null,
      adaptive: this.limits?.adaptive ?? true,
      queuedBy: this.queue.counts(),
      tenants,
      drainPerS: Math.round(this.drain.perSecond(Date.now()) * 100) / 100,
      expired: this.expired,
    };
  }

  /** Sweeps expired leases (their Workers stopped renewing them) and serves the queue with the slots. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.sweep(now);
    this.pump(now);
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) next = Math.min(next, lease.expiresAt);
    if (Number.isFinite(next)) this.scheduleAlarm(next);
  }

  private configure(limits: GateLimits): void {
    const current = this.limits;
    if (
      current &&
      current.ceiling === limits.ceiling &&
      current.maxQueue === limits.maxQueue &&
      current.leaseTtlMs === limits.leaseTtlMs &&
      current.adaptive === limits.adaptive
    )
      return;
    this.limits = { ...limits };
    this.saveState("limits", this.limits);
    if (!limits.adaptive) return;
    const learned = this.limit ?? initialLimit(limits.ceiling);
    this.limit = { ...learned, value: Math.min(learned.value, limits.ceiling) };
    this.saveState("limit", this.limit);
  }

  private effective(): number {
    const limits = this.limits;
    if (!limits) return 0;
    return limits.adaptive && this.limit ? effectiveLimit(this.limit, limits.ceiling) : limits.ceiling;
  }

  private load(): GateLoad {
    return { inFlight: this.leases.size, queued: this.queue.size, limit: this.effective() };
  }

  private heldBy(tenant: string): number {
    return this.heldByTenant.get(tenant) ?? 0;
  }

  private hasRoom(waiter: Waiter): boolean {
    return this.leases.size < this.effective() && this.heldBy(waiter.tenant) < waiter.tenantLimit;
  }

  private grant(request: AcquireRequest, now: number): AcquireResult {
    const ttl = this.limits?.leaseTtlMs ?? request.limits.leaseTtlMs;
    const lease: Lease = {
      id: request.leaseId,
      tenant: request.tenant,
      priority: request.priority,
      grantedAt: now,
      expiresAt: now + ttl,
    };
    this.store(lease);
    return { granted: true, expiresAt: lease.expiresAt, load: this.load() };
  }

  private refusal(waiter: Waiter, now: number, reason: ShedReason): AcquireResult {
    const perSecond = this.drain.perSecond(now);
    const held = this.heldBy(waiter.tenant);
    if (held >= waiter.tenantLimit) {
      const tenantRate = tenantDrainPerSecond(perSecond, held, this.leases.size);
      return {
        granted: false,
        reason: "tenant_concurrency_limit",
        retryAfterMs: retryAfterMs(this.queue.queuedFor(waiter.tenant), tenantRate),
        load: this.load(),
      };
    }
    return {
      granted: false,
      reason,
      retryAfterMs: retryAfterMs(this.queue.ahead(waiter.priority), perSecond),
      load: this.load(),
    };
  }

  private park(waiter: Waiter, request: AcquireRequest): Promise<AcquireResult> {
    let answer: (result: AcquireResult) => void = () => {};
    const result = new Promise<AcquireResult>((resolve) => {
      answer = resolve;
    });
    const timer = setTimeout(() => {
      this.answerParked(waiter.id, () => this.refusal(waiter, Date.now(), "queue_timeout"));
    }, request.waitMs);
    this.parked.set(waiter.id, { waiter, request, result, answer, timer });
    this.queue.add(waiter);
    return result;
  }

  /** Takes a waiter out of the queue and answers it; `decide` runs after, so its load is current. */
  private answerParked(id: string, decide: (parked: Parked) => AcquireResult): void {
    const parked = this.parked.get(id);
    if (!parked) return;
    clearTimeout(parked.timer);
    this.parked.delete(id);
    this.queue.remove(id);
    parked.answer(decide(parked));
  }

  /** Grants free slots to waiters, in the queue's order, until none fits. */
  private pump(now: number): void {
    while (this.queue.size > 0 && this.leases.size < this.effective()) {
      const next = this.queue.next((tenant) => this.heldBy(tenant));
      const parked = next && this.parked.get(next.id);
      if (!parked) return;
      this.answerParked(parked.waiter.id, (p) => this.grant(p.request, now));
    }
  }

  private adapt(released: Released, now: number): void {
    const limits = this.limits;
    if (!limits?.adaptive || !this.limit) return;
    const before = this.effective();
    this.limit = observeOutcome(this.limit, released, limits.ceiling, now);
    // Persisted when the whole-slot limit moves, not on every fractional step.
    if (this.effective() !== before) this.saveState("limit", this.limit);
  }

  private sweep(now: number): void {
    for (const lease of [...this.leases.values()]) {
      if (lease.expiresAt > now) continue;
      this.drop(lease);
      this.expired++;
      console.warn(JSON.stringify({ event: "lease_expired", lease: lease.id, tenant: lease.tenant }));
    }
  }

  private store(lease: Lease): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO leases (id, tenant, priority, granted_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      lease.id,
      lease.tenant,
      lease.priority,
      lease.grantedAt,
      lease.expiresAt,
    );
    this.hold(lease);
    this.scheduleAlarm(lease.expiresAt);
  }

  private hold(lease: Lease): void {
    if (!this.leases.has(lease.id)) {
      this.heldByTenant.set(lease.tenant, this.heldBy(lease.tenant) + 1);
    }
    this.leases.set(lease.id, lease);
  }

  private drop(lease: Lease): void {
    this.ctx.storage.sql.exec("DELETE FROM leases WHERE id = ?", lease.id);
    this.leases.delete(lease.id);
    const left = this.heldBy(lease.tenant) - 1;
    if (left > 0) this.heldByTenant.set(lease.tenant, left);
    else this.heldByTenant.delete(lease.tenant);
  }

  private remember(leaseId: string): void {
    this.released.add(leaseId);
    if (this.released.size <= RELEASED_MEMORY) return;
    const oldest = this.released.values().next().value;
    if (oldest !== undefined) this.released.delete(oldest);
  }

  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.ctx.storage.setAlarm(at).catch((error: unknown) => {
      console.error(JSON.stringify({ event: "gate_alarm_failed", error: String(error) }));
    });
  }

  private loadState<T>(key: string): T | undefined {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM gate WHERE key = ?", key)
      .toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  private saveState(key: string, value: unknown): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO gate (key, value) VALUES (?, ?)",
      key,
      JSON.stringify(value),
    );
  }
}
