import { DurableObject } from "cloudflare:workers";
import type { Priority } from "../config/tenants";
import { type LendAnswer, type LendRequest, renewalMs, underPressure, unitsToLend } from "./budget";
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

/** A block of permits lent to one isolate (a `BudgetLease` of concurrency); its units count as in flight. */
interface Block {
  id: string;
  units: number;
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
 * One per pool shard: the authority over every permit of that pool in the fleet. It grants single
 * leases (one request, one call each way) and lends blocks of permits to isolates (`lend`), which
 * spend them with no round trip; both count against one limit, spare block units included.
 *
 * What survives eviction lives in SQLite and is written before any answer leaves (the output gate
 * holds the reply until the write is durable): every granted lease and block with its expiry, the
 * adaptive limit and the last limits callers sent. So a restarted object reloads exactly the leases it granted — it
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
  private readonly blocks = new Map<string, Block>();
  /** Units of every block together: permits out on lease in isolates, in use or spare. */
  private lent = 0;
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
  /** Calls answered since the object started: the benchmarks count gate calls per request with it. */
  private calls = 0;
  /** The gate's clock. Tests replace it (through `runInDurableObject`) instead of racing real time. */
  clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS leases (
      id TEXT PRIMARY KEY, tenant TEXT NOT NULL, priority TEXT NOT NULL, granted_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL)`);
    sql.exec("CREATE TABLE IF NOT EXISTS gate (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    sql.exec(
      "CREATE TABLE IF NOT EXISTS blocks (id TEXT PRIMARY KEY, units INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    );
    const blocks = sql.exec<{ id: string; units: number; expires_at: number }>(
      "SELECT id, units, expires_at FROM blocks",
    );
    for (const row of blocks) this.holdBlock({ id: row.id, units: row.units, expiresAt: row.expires_at });
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
    this.calls++;
    const now = this.clock();
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
    this.calls++;
    if (this.released.has(ref.leaseId)) return false;
    const now = this.clock();
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
    this.calls++;
    const now = this.clock();
    const lease = this.leases.get(leaseId);
    this.remember(leaseId);
    if (lease) {
      const inFlight = this.used();
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

  /**
   * Renews, resizes or returns an isolate's block of permits (a `BudgetLease` of concurrency),
   * and learns from the permits it spent. The size is {@link unitsToLend}'s; a block of 0 units is
   * deleted. Written before the answer leaves, like a lease, so a restart neither loses nor repeats it.
   */
  async lend(request: LendRequest, limits: GateLimits): Promise<LendAnswer & { load: GateLoad }> {
    this.calls++;
    const now = this.clock();
    this.configure(limits);
    if (this.alarmAt !== null && now >= this.alarmAt) this.sweep(now);
    for (const { outcome, heldMs } of request.spent) {
      this.drain.record(now);
      this.adapt({ outcome, grantedAt: now - heldMs, inFlight: this.used() }, now);
    }
    const current = this.blocks.get(request.leaseId)?.units ?? 0;
    const state = { limit: this.effective(), usedElsewhere: this.used() - current, queued: this.queue.size };
    const units = unitsToLend(state, request);
    this.storeBlock({ id: request.leaseId, units, expiresAt: now + request.ttlMs });
    this.pump(now);
    const after = { limit: this.effective(), usedElsewhere: this.used() - units, queued: this.queue.size };
    return {
      units,
      pressure: underPressure(after, units),
      renewInMs: renewalMs(after.limit, this.used(), request.ttlMs),
      load: this.load(),
    };
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
      drainPerS: Math.round(this.drain.perSecond(this.clock()) * 100) / 100,
      expired: this.expired,
      lent: this.lent,
      blocks: this.blocks.size,
      calls: this.calls,
    };
  }

  /** Sweeps expired leases (their Workers stopped renewing them) and serves the queue with the slots. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = this.clock();
    this.sweep(now);
    this.pump(now);
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) next = Math.min(next, lease.expiresAt);
    for (const block of this.blocks.values()) next = Math.min(next, block.expiresAt);
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

  /** Permits out: single leases plus every block's units, spare ones included. */
  private used(): number {
    return this.leases.size + this.lent;
  }

  private load(): GateLoad {
    return { inFlight: this.used(), queued: this.queue.size, limit: this.effective() };
  }

  private heldBy(tenant: string): number {
    return this.heldByTenant.get(tenant) ?? 0;
  }

  private hasRoom(waiter: Waiter): boolean {
    return this.used() < this.effective() && this.heldBy(waiter.tenant) < waiter.tenantLimit;
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

  /**
   * A shed, with when to come back. The waiters ahead of it may be shed themselves (a burst queues
   * more than it will ever serve), so they count only up to the slots they wait for: a client that
   * retries once those have turned over has a fair chance, where one that waited for the whole queue
   * to drain was told up to a minute for a slot that freed within a second.
   */
  private refusal(waiter: Waiter, now: number, reason: ShedReason): AcquireResult {
    const perSecond = this.drain.perSecond(now);
    const held = this.heldBy(waiter.tenant);
    if (held >= waiter.tenantLimit) {
      const tenantRate = tenantDrainPerSecond(perSecond, held, this.used());
      const ahead = Math.min(this.queue.queuedFor(waiter.tenant), held);
      return {
        granted: false,
        reason: "tenant_concurrency_limit",
        retryAfterMs: retryAfterMs(ahead, tenantRate),
        load: this.load(),
      };
    }
    const ahead = Math.min(this.queue.ahead(waiter.priority), Math.max(1, this.used()));
    return { granted: false, reason, retryAfterMs: retryAfterMs(ahead, perSecond), load: this.load() };
  }

  private park(waiter: Waiter, request: AcquireRequest): Promise<AcquireResult> {
    let answer: (result: AcquireResult) => void = () => {};
    const result = new Promise<AcquireResult>((resolve) => {
      answer = resolve;
    });
    const timer = setTimeout(() => {
      this.answerParked(waiter.id, () => this.refusal(waiter, this.clock(), "queue_timeout"));
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
    while (this.queue.size > 0 && this.used() < this.effective()) {
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
    for (const block of [...this.blocks.values()]) {
      if (block.expiresAt > now) continue;
      this.storeBlock({ ...block, units: 0 });
      this.expired++;
      console.warn(JSON.stringify({ event: "block_expired", block: block.id, units: block.units }));
    }
  }

  /** Records a block's new size (0 deletes it) and keeps `lent` in step. */
  private storeBlock(block: Block): void {
    const sql = this.ctx.storage.sql;
    if (block.units > 0) {
      sql.exec(
        "INSERT OR REPLACE INTO blocks (id, units, expires_at) VALUES (?, ?, ?)",
        block.id,
        block.units,
        block.expiresAt,
      );
      this.scheduleAlarm(block.expiresAt);
    } else if (this.blocks.has(block.id)) {
      sql.exec("DELETE FROM blocks WHERE id = ?", block.id);
    }
    this.holdBlock(block);
  }

  private holdBlock(block: Block): void {
    this.lent += block.units - (this.blocks.get(block.id)?.units ?? 0);
    if (block.units > 0) this.blocks.set(block.id, block);
    else this.blocks.delete(block.id);
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
