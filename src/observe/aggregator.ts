import { DurableObject } from "cloudflare:workers";
import { poolStatus } from "../admission/status";
import {
  type Alert,
  type AlertLedger,
  type AlertRules,
  admitAlerts,
  breakerAlerts,
  DEFAULT_ALERT_RULES,
  limitCutAlerts,
  rateAlerts,
} from "./alerts";
import { type Labels, type MetricId, OTHER_TENANT } from "./catalog";
import type { CounterDelta, HistogramDelta, MetricsDelta } from "./delta";
import type { HistogramSample, Sample } from "./prometheus";
import {
  accountsFingerprint,
  type Baseline,
  driftAlert,
  type Reconciliation,
  reconcile,
  upstreamAccounts,
  upstreamBalanceUsd,
} from "./reconcile";
import {
  addToSlot,
  emptySlot,
  type PoolSample,
  RESOLUTIONS,
  type Slot,
  slotStart,
  type TenantSlot,
} from "./series";
import type { ObserveConfig } from "./settings";

export interface SeriesView {
  slotMs: number;
  slots: Slot[];
  alerts: Alert[];
  reconciliation?: Reconciliation;
}

export interface TenantSeriesView {
  slotMs: number;
  tracked: boolean;
  slots: Array<TenantSlot & { start: number }>;
}

/** How often the alarm samples pool gauges and judges the rate and limit alerts while traffic flows. */
const SAMPLE_EVERY_MS = 10_000;
/** The alarm stops this long after the last flush; the next flush starts it again. */
const IDLE_AFTER_MS = 120_000;
const ALERT_LOG = 50;

/**
 * The one fleet-wide view of the router's metrics ("fleet"): every isolate flushes its deltas here
 * every few seconds. Counters and histograms are cumulative since the object was created and live in
 * SQLite, so an evicted object never makes a counter go down (Prometheus would read that as a reset).
 * It also keeps a bounded time series (10 s slots for an hour, 5 min slots for a day) for the operator
 * dashboard, samples pool gauges on an alarm, and raises alerts onto the ALERTS queue.
 */
export class MetricsAggregator extends DurableObject<Env> {
  /** The clock, injectable like every Durable Object's here. */
  now: () => number = Date.now;
  private readonly counters = new Map<string, Sample>();
  private readonly histograms = new Map<string, HistogramSample>();
  private readonly slots = new Map<string, Slot>();
  private readonly tenants = new Set<string>();
  private config: ObserveConfig | undefined;
  private ledger: AlertLedger = { lastFired: new Map(), recent: [] };
  private lastMergeAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, metric TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS histograms (key TEXT PRIMARY KEY, metric TEXT NOT NULL, labels TEXT NOT NULL, counts TEXT NOT NULL, sum REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS slots (res INTEGER NOT NULL, start INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (res, start));
      CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS alert_log (id TEXT PRIMARY KEY, at INTEGER NOT NULL, data TEXT NOT NULL);`);
    this.restore(sql);
  }

  /** Everything the object keeps in memory, reloaded from SQLite after an eviction. */
  private restore(sql: SqlStorage): void {
    for (const row of sql.exec<{ key: string; metric: string; labels: string; value: number }>(
      "SELECT * FROM counters",
    ))
      this.counters.set(row.key, {
        metric: row.metric as MetricId,
        labels: JSON.parse(row.labels),
        value: row.value,
      });
    for (const row of sql.exec<{ key: string; metric: string; labels: string; counts: string; sum: number }>(
      "SELECT * FROM histograms",
    ))
      this.histograms.set(row.key, {
        metric: row.metric as MetricId,
        labels: JSON.parse(row.labels),
        counts: JSON.parse(row.counts),
        sum: row.sum,
      });
    for (const row of sql.exec<{ res: number; start: number; data: string }>("SELECT * FROM slots"))
      this.slots.set(`${row.res}:${row.start}`, JSON.parse(row.data));
    for (const row of sql.exec<{ id: string }>("SELECT id FROM tenants")) this.tenants.add(row.id);
    const config = this.loadState<ObserveConfig>("config");
    if (config) this.config = config;
    const ledger = this.loadState<{ lastFired: Array<[string, number]>; recent: number[] }>("alerts");
    if (ledger) this.ledger = { lastFired: new Map(ledger.lastFired), recent: ledger.recent };
  }

  /** Adds one isolate's deltas to the totals and the current slots; raises breaker alerts at once. */
  async merge(delta: MetricsDelta, config: ObserveConfig): Promise<void> {
    const now = this.now();
    this.lastMergeAt = now;
    this.adopt(config);
    const folded: MetricsDelta = {
      counters: delta.counters.map((c) => ({ ...c, labels: this.fold(c.labels, config.maxTenants) })),
      histograms: delta.histograms.map((h) => ({ ...h, labels: this.fold(h.labels, config.maxTenants) })),
    };
    for (const c of folded.counters) this.addCounter(c);
    for (const h of folded.histograms) this.addHistogram(h);
    for (const res of RESOLUTIONS) this.updateSlot(res.id, now, (slot) => addToSlot(slot, folded));
    await this.raise(breakerAlerts(folded.counters, now), config.rules, now);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + SAMPLE_EVERY_MS);
  }

  /** Cumulative counters and histograms, and the last reconciliation with the upstream, for /metrics. */
  async snapshot(): Promise<{
    counters: Sample[];
    histograms: HistogramSample[];
    reconciliation: Reconciliation | undefined;
  }> {
    return {
      counters: [...this.counters.values()],
      histograms: [...this.histograms.values()],
      reconciliation: this.loadState<Reconciliation>("reconciliation"),
    };
  }

  /**
   * Reads the upstream accounts' balances and compares their fall with the spend the router recorded
   * since the first reading (reconcile.ts); alerts past the drift rule. Runs on the alarm every
   * `reconcileEveryMs`, and on demand.
   */
  async reconcile(): Promise<Reconciliation | undefined> {
    const config = this.config;
    if (!config) return undefined;
    const accounts = upstreamAccounts(config.pools, this.env);
    if (accounts.length === 0) return undefined;
    const balanceUsd = await upstreamBalanceUsd(accounts);
    if (balanceUsd === undefined) return undefined;
    const now = this.now();
    const recordedUsd = [...this.counters.values()]
      .filter((c) => c.metric === "cost")
      .reduce((sum, c) => sum + c.value, 0);
    const { baseline, result } = reconcile(this.loadState<Baseline>("baseline"), {
      at: now,
      balanceUsd,
      recordedUsd,
      accounts: await accountsFingerprint(accounts),
    });
    this.saveState("baseline", baseline);
    this.saveState("reconciledAt", now);
    if (!result) return undefined;
    this.saveState("reconciliation", result);
    const alert = driftAlert(result, config.rules);
    if (alert) await this.raise([alert], config.rules, now);
    return result;
  }

  /** The slots covering the last `rangeMs` (the finer resolution when it reaches that far). */
  async series(rangeMs: number): Promise<SeriesView> {
    const now = this.now();
    const res = RESOLUTIONS.find((r) => r.slotMs * r.keep >= rangeMs) ?? RESOLUTIONS[1];
    const from = now - rangeMs;
    const slots = [...this.slots.entries()]
      .filter(([key, slot]) => key.startsWith(`${res.id}:`) && slot.start + res.slotMs > from)
      .map(([, slot]) => slot)
      .sort((a, b) => a.start - b.start);
    const alerts = this.ctx.storage.sql
      .exec<{ data: string }>("SELECT data FROM alert_log ORDER BY at DESC LIMIT ?", ALERT_LOG)
      .toArray()
      .map((row) => JSON.parse(row.data) as Alert);
    return {
      slotMs: res.slotMs,
      slots,
      alerts,
      reconciliation: this.judgedReconciliation(),
    };
  }

  /** The last reconciliation, with the spend from which the current rules judge its drift (the page reads it). */
  private judgedReconciliation(): Reconciliation | undefined {
    const result = this.loadState<Reconciliation>("reconciliation");
    const rules = this.config?.rules ?? DEFAULT_ALERT_RULES;
    return result && { ...result, judgedFromUsd: rules.minDriftUsd };
  }

  /**
   * One tenant's slice of the series, for its own dashboard; `tracked` is false when the tenant is
   * folded into `other` (its latency is then not its own to show).
   */
  async tenantSeries(tenant: string, rangeMs: number): Promise<TenantSeriesView> {
    const { slotMs, slots } = await this.series(rangeMs);
    return {
      slotMs,
      tracked: this.tenants.has(tenant),
      slots: slots.flatMap((slot) => {
        const mine = Object.hasOwn(slot.tenants, tenant) ? slot.tenants[tenant] : undefined;
        return mine ? [{ start: slot.start, ...mine }] : [];
      }),
    };
  }

  /** Samples every pool's gauges into the current slots and judges the rate and limit alerts. */
  override async alarm(): Promise<void> {
    const now = this.now();
    const config = this.config;
    if (!config) return;
    const pools: Record<string, PoolSample> = {};
    await Promise.all(
      Object.entries(config.pools).map(async ([name, spec]) => {
        try {
          const view = await poolStatus(this.env.POOL_GATE, name, spec);
          pools[name] = {
            inFlight: view.inFlight,
            queued: view.queued,
            limit: view.limit,
            ceiling: view.ceiling,
          };
        } catch {
          // A gate that cannot be read this round is simply not sampled.
        }
      }),
    );
    const fine = this.recentSlots(0);
    const candidates = [
      ...rateAlerts(fine, config.rules, now),
      ...limitCutAlerts(fine, pools, config.rules, now),
    ];
    for (const res of RESOLUTIONS) this.updateSlot(res.id, now, (slot) => Object.assign(slot.pools, pools));
    await this.raise(candidates, config.rules, now);
    // The first reading waits a period too: a fleet that only ever served a few seconds needs none.
    const reconciledAt = this.loadState<number>("reconciledAt");
    if (reconciledAt === undefined) this.saveState("reconciledAt", now);
    else if (now - reconciledAt >= config.rules.reconcileEveryMs)
      await this.reconcile().catch(() => undefined);
    if (now - this.lastMergeAt < IDLE_AFTER_MS) await this.ctx.storage.setAlarm(now + SAMPLE_EVERY_MS);
  }

  private async raise(candidates: Alert[], rules: AlertRules, now: number): Promise<void> {
    if (candidates.length === 0) return;
    const { send, suppressed } = admitAlerts(candidates, this.ledger, rules, now);
    for (const a of suppressed)
      this.addCounter({ metric: "alertsSuppressed", labels: { kind: a.kind }, value: 1 });
    this.logAlerts(send);
    this.saveState("alerts", { lastFired: [...this.ledger.lastFired], recent: this.ledger.recent });
    // The queue carries delivery and its retries; a webhook that fails never holds up the aggregator.
    if (send.length > 0) await this.env.ALERTS.sendBatch(send.map((body) => ({ body })));
  }

  /**
   * Alerts raised elsewhere and already queued for delivery (a tenant's budget alerts, by its spend
   * authority): listed and counted with the fleet's, so an operator without a webhook sees them too.
   */
  async alertsRaised(alerts: Alert[]): Promise<void> {
    this.logAlerts(alerts);
  }

  private logAlerts(alerts: Alert[]): void {
    for (const a of alerts) {
      this.addCounter({ metric: "alertsSent", labels: { kind: a.kind }, value: 1 });
      this.ctx.storage.sql.exec(
        "INSERT OR REPLACE INTO alert_log (id, at, data) VALUES (?, ?, ?)",
        a.id,
        a.at,
        JSON.stringify(a),
      );
      console.log(JSON.stringify({ event: "alert", id: a.id, kind: a.kind, summary: a.summary }));
    }
    this.ctx.storage.sql.exec(
      "DELETE FROM alert_log WHERE id NOT IN (SELECT id FROM alert_log ORDER BY at DESC LIMIT ?)",
      ALERT_LOG,
    );
  }

  private fold(labels: Labels, maxTenants: number): Labels {
    const tenant = labels.tenant;
    if (tenant === undefined || this.tenants.has(tenant)) return labels;
    if (this.tenants.size < maxTenants) {
      this.tenants.add(tenant);
      this.ctx.storage.sql.exec("INSERT OR IGNORE INTO tenants (id) VALUES (?)", tenant);
      return labels;
    }
    return { ...labels, tenant: OTHER_TENANT };
  }

  private addCounter(c: CounterDelta): void {
    const key = seriesKey(c.metric, c.labels);
    const entry = this.counters.get(key) ?? { metric: c.metric, labels: c.labels, value: 0 };
    entry.value += c.value;
    this.counters.set(key, entry);
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO counters (key, metric, labels, value) VALUES (?, ?, ?, ?)",
      key,
      c.metric,
      JSON.stringify(c.labels),
      entry.value,
    );
  }

  private addHistogram(h: HistogramDelta): void {
    const key = seriesKey(h.metric, h.labels);
    const entry = this.histograms.get(key) ?? {
      metric: h.metric,
      labels: h.labels,
      counts: h.counts.map(() => 0),
      sum: 0,
    };
    const counts = entry.counts.map((n, i) => n + (h.counts[i] ?? 0));
    const next = { ...entry, counts, sum: entry.sum + h.sum };
    this.histograms.set(key, next);
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO histograms (key, metric, labels, counts, sum) VALUES (?, ?, ?, ?, ?)",
      key,
      h.metric,
      JSON.stringify(h.labels),
      JSON.stringify(counts),
      next.sum,
    );
  }

  private updateSlot(res: number, now: number, update: (slot: Slot) => void): void {
    const spec = RESOLUTIONS[res] as (typeof RESOLUTIONS)[number];
    const start = slotStart(now, spec.slotMs);
    const key = `${res}:${start}`;
    const slot = this.slots.get(key) ?? emptySlot(start);
    update(slot);
    this.slots.set(key, slot);
    const sql = this.ctx.storage.sql;
    sql.exec(
      "INSERT OR REPLACE INTO slots (res, start, data) VALUES (?, ?, ?)",
      res,
      start,
      JSON.stringify(slot),
    );
    const oldest = start - spec.slotMs * (spec.keep - 1);
    sql.exec("DELETE FROM slots WHERE res = ? AND start < ?", res, oldest);
    for (const [k, s] of this.slots) if (k.startsWith(`${res}:`) && s.start < oldest) this.slots.delete(k);
  }

  private recentSlots(res: number): Slot[] {
    return [...this.slots.entries()].filter(([k]) => k.startsWith(`${res}:`)).map(([, s]) => s);
  }

  private adopt(config: ObserveConfig): void {
    if (JSON.stringify(config) === JSON.stringify(this.config)) return;
    this.config = config;
    this.saveState("config", config);
  }

  private loadState<T>(key: string): T | undefined {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM state WHERE key = ?", key)
      .toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  private saveState(key: string, value: unknown): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
      key,
      JSON.stringify(value),
    );
  }
}

/** Metric id plus label pairs in their given order (the recorder always builds them in spec order). */
function seriesKey(metric: string, labels: Labels): string {
  return `${metric}${JSON.stringify(Object.entries(labels))}`;
}
