import type { CounterDelta } from "./delta";
import type { PoolSample, PoolTraffic, Slot } from "./series";

export type AlertKind = "breaker_open" | "limit_cut" | "error_rate" | "shed_rate" | "budget" | "spend_drift";

/** When alerts fire and how often they may. Set with the `ALERT_RULES` var (JSON, any subset). */
export interface AlertRules {
  /** A pool's adaptive limit below (1 − this) × its peak over `limitLookbackMs`. */
  limitCutShare: number;
  limitLookbackMs: number;
  /** Share of a pool's upstream attempts that failed with a 5xx or got no answer, over `windowMs`. */
  errorRate: number;
  /** Share of a pool's requests admission refused, over `windowMs`. */
  shedRate: number;
  windowMs: number;
  /** Rates are not judged on fewer attempts or requests than this in the window. */
  minRequests: number;
  /** The same alert (kind and subject) fires at most once per this long. */
  cooldownMs: number;
  /** All alerts together, per rolling hour. */
  maxPerHour: number;
  /** Share by which the router's recorded spend may differ from what the upstream billed. */
  spendDrift: number;
  /** Drift is not judged before the upstream has billed this many USD since the baseline. */
  minDriftUsd: number;
  /** How often the aggregator reads the upstream accounts' balances to reconcile. */
  reconcileEveryMs: number;
}

export const DEFAULT_ALERT_RULES: AlertRules = {
  limitCutShare: 0.3,
  limitLookbackMs: 300_000,
  errorRate: 0.05,
  shedRate: 0.1,
  windowMs: 60_000,
  minRequests: 20,
  cooldownMs: 900_000,
  maxPerHour: 20,
  spendDrift: 0.05,
  minDriftUsd: 1,
  reconcileEveryMs: 300_000,
};

/** `ALERT_RULES` over the defaults; unknown keys and non-positive numbers are errors. */
export function parseAlertRules(
  raw: string | undefined,
): { ok: true; rules: AlertRules } | { ok: false; error: string } {
  if (raw === undefined || raw.trim() === "") return { ok: true, rules: DEFAULT_ALERT_RULES };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, error: "ALERT_RULES: not valid JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return { ok: false, error: "ALERT_RULES: expected an object" };
  const rules: Record<string, number> = { ...DEFAULT_ALERT_RULES };
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in DEFAULT_ALERT_RULES)) return { ok: false, error: `ALERT_RULES.${key}: unknown rule` };
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
      return { ok: false, error: `ALERT_RULES.${key}: expected a positive number` };
    rules[key] = value;
  }
  return { ok: true, rules: rules as unknown as AlertRules };
}

export interface Alert {
  /** Unique per firing: the receiver's idempotency key (`x-router-alert-id`). */
  id: string;
  kind: AlertKind;
  /** Kind and subject: what deduplication compares. */
  key: string;
  at: number;
  summary: string;
  details: Record<string, string | number>;
  /** The tenant the alert is about (budget alerts). */
  tenant?: string;
  /** The tenant's own webhook, on the copy of an alert meant for it; the operator's copy has none. */
  webhook?: string;
}

function alert(
  kind: AlertKind,
  subject: string,
  at: number,
  summary: string,
  details: Alert["details"],
): Alert {
  const key = `${kind}:${subject}`;
  return { id: `${key}@${at}`, kind, key, at, summary, details };
}

/** A breaker opened in some isolate: one alert per pool and target. */
export function breakerAlerts(counters: readonly CounterDelta[], now: number): Alert[] {
  return counters
    .filter((c) => c.metric === "breakerOpens" && c.value > 0)
    .map(({ labels }) =>
      alert(
        "breaker_open",
        `${labels.pool}/${labels.target}`,
        now,
        `Circuit breaker opened for target '${labels.target}' of pool '${labels.pool}'.`,
        { pool: labels.pool ?? "", target: labels.target ?? "" },
      ),
    );
}

/**
 * Per pool, over the last `windowMs` of slots: the share of upstream attempts that failed with a 5xx
 * (or got no answer), and the share of requests admission refused (sheds ÷ sheds + answered).
 */
export function rateAlerts(slots: readonly Slot[], rules: AlertRules, now: number): Alert[] {
  const totals = new Map<string, PoolTraffic>();
  for (const slot of slots) {
    if (slot.start < now - rules.windowMs) continue;
    for (const [pool, t] of Object.entries(slot.traffic)) {
      const sum = totals.get(pool) ?? { answered: 0, upstream: 0, upstream5xx: 0, sheds: 0 };
      sum.answered += t.answered;
      sum.upstream += t.upstream;
      sum.upstream5xx += t.upstream5xx;
      sum.sheds += t.sheds;
      totals.set(pool, sum);
    }
  }
  const seconds = Math.round(rules.windowMs / 1000);
  const out: Alert[] = [];
  for (const [pool, t] of totals) {
    if (t.upstream >= rules.minRequests && t.upstream5xx / t.upstream > rules.errorRate) {
      const summary = `Pool '${pool}': ${pct(t.upstream5xx / t.upstream)} of upstream attempts failed (5xx or no answer) in the last ${seconds} s.`;
      out.push(
        alert("error_rate", pool, now, summary, {
          pool,
          attempts: t.upstream,
          failed: t.upstream5xx,
          threshold: rules.errorRate,
        }),
      );
    }
    const asked = t.sheds + t.answered;
    if (asked >= rules.minRequests && t.sheds / asked > rules.shedRate) {
      const summary = `Pool '${pool}': ${pct(t.sheds / asked)} of requests were shed by admission in the last ${seconds} s.`;
      out.push(
        alert("shed_rate", pool, now, summary, {
          pool,
          requests: asked,
          sheds: t.sheds,
          threshold: rules.shedRate,
        }),
      );
    }
  }
  return out;
}

/** A pool's effective limit fell by more than the configured share below its recent peak. */
export function limitCutAlerts(
  slots: readonly Slot[],
  current: Readonly<Record<string, PoolSample>>,
  rules: AlertRules,
  now: number,
): Alert[] {
  const out: Alert[] = [];
  for (const [pool, sample] of Object.entries(current)) {
    let peak = sample.limit;
    for (const slot of slots) {
      const seen = slot.pools[pool];
      if (slot.start >= now - rules.limitLookbackMs && seen) peak = Math.max(peak, seen.limit);
    }
    if (sample.limit < peak * (1 - rules.limitCutShare)) {
      out.push(
        alert("limit_cut", pool, now, `Pool '${pool}' adaptive limit fell from ${peak} to ${sample.limit}.`, {
          pool,
          peak,
          limit: sample.limit,
          ceiling: sample.ceiling,
        }),
      );
    }
  }
  return out;
}

/** What deduplication and the hourly cap remember. */
export interface AlertLedger {
  lastFired: Map<string, number>;
  /** Times alerts fired within the last hour. */
  recent: number[];
}

/** Splits candidates into those to send and those dropped; updates the ledger for those sent. */
export function admitAlerts(
  candidates: readonly Alert[],
  ledger: AlertLedger,
  rules: AlertRules,
  now: number,
): { send: Alert[]; suppressed: Alert[] } {
  ledger.recent = ledger.recent.filter((at) => at > now - 3_600_000);
  const send: Alert[] = [];
  const suppressed: Alert[] = [];
  for (const candidate of candidates) {
    const last = ledger.lastFired.get(candidate.key);
    const duplicate = last !== undefined && now - last < rules.cooldownMs;
    if (duplicate || ledger.recent.length >= rules.maxPerHour) {
      suppressed.push(candidate);
      continue;
    }
    ledger.lastFired.set(candidate.key, now);
    ledger.recent.push(now);
    send.push(candidate);
  }
  return { send, suppressed };
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
