import type { CounterDelta } from "./delta";
import { type PoolSample, type Slot, slotRequests } from "./series";

export type AlertKind = "breaker_open" | "limit_cut" | "error_rate" | "shed_rate";

/** When alerts fire and how often they may. Set with the `ALERT_RULES` var (JSON, any subset). */
export interface AlertRules {
  /** A pool's adaptive limit below (1 − this) × its peak over `limitLookbackMs`. */
  limitCutShare: number;
  limitLookbackMs: number;
  /** Share of finished requests answered with a 5xx, over `windowMs`. */
  errorRate: number;
  /** Admission refusals per finished request, over `windowMs`. */
  shedRate: number;
  windowMs: number;
  /** Rates are not judged on fewer requests than this in the window. */
  minRequests: number;
  /** The same alert (kind and subject) fires at most once per this long. */
  cooldownMs: number;
  /** All alerts together, per rolling hour. */
  maxPerHour: number;
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

/** 5xx and shed rates over the last `windowMs` of slots. */
export function rateAlerts(slots: readonly Slot[], rules: AlertRules, now: number): Alert[] {
  const recent = slots.filter((s) => s.start >= now - rules.windowMs);
  const requests = recent.reduce((n, s) => n + slotRequests(s), 0);
  if (requests < rules.minRequests) return [];
  const errors = recent.reduce((n, s) => n + s.errors, 0);
  const sheds = recent.reduce((n, s) => n + s.sheds, 0);
  const seconds = Math.round(rules.windowMs / 1000);
  const out: Alert[] = [];
  if (errors / requests > rules.errorRate) {
    out.push(
      alert(
        "error_rate",
        "fleet",
        now,
        `${pct(errors / requests)} of requests failed with a 5xx in the last ${seconds} s.`,
        {
          requests,
          errors,
          threshold: rules.errorRate,
        },
      ),
    );
  }
  if (sheds / requests > rules.shedRate) {
    out.push(
      alert(
        "shed_rate",
        "fleet",
        now,
        `${pct(sheds / requests)} of requests were shed by admission in the last ${seconds} s.`,
        {
          requests,
          sheds,
          threshold: rules.shedRate,
        },
      ),
    );
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
