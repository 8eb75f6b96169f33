import type { PoolSpec } from "../config/policy";
import { type AlertRules, DEFAULT_ALERT_RULES, parseAlertRules } from "./alerts";

/** The Worker vars that shape metrics and alerts; all optional. */
export interface ObserveVars {
  /** "false" turns recording, flushing and Analytics Engine writes off (the benchmark's baseline). */
  METRICS_ENABLED?: string;
  /** How long an isolate gathers deltas before flushing them to the aggregator (default 2000). */
  METRICS_FLUSH_MS?: string;
  /** Tenants with their own label value; the rest fold into `other` (default 20). */
  METRICS_MAX_TENANTS?: string;
  /** JSON overriding any of the alert rules (see DEFAULT_ALERT_RULES). */
  ALERT_RULES?: string;
  /** Where alerts are POSTed; without it they are logged and shown on the dashboard only. */
  ALERT_WEBHOOK_URL?: string;
  /** First retry delay of a failed delivery in seconds, doubling after (default 10). */
  ALERT_RETRY_BASE_S?: string;
}

export interface ObserveSettings {
  enabled: boolean;
  flushMs: number;
  maxTenants: number;
  rules: AlertRules;
}

/** What every flush carries to the aggregator; it adopts the latest, as the gates do. */
export interface ObserveConfig {
  maxTenants: number;
  rules: AlertRules;
  /** The pools in force, so the aggregator's alarm can read their gates' gauges. */
  pools: Record<string, PoolSpec>;
}

const memo = new Map<string, ObserveSettings>();

/** Parsed once per distinct set of values; a bad value is logged and its default used, never fatal. */
export function observeSettings(env: ObserveVars): ObserveSettings {
  const key = `${env.METRICS_ENABLED}|${env.METRICS_FLUSH_MS}|${env.METRICS_MAX_TENANTS}|${env.ALERT_RULES}`;
  const known = memo.get(key);
  if (known) return known;
  const errors: string[] = [];
  const whole = (name: keyof ObserveVars, fallback: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= 1 && value <= max) return value;
    errors.push(`${name}: expected a whole number from 1 to ${max}`);
    return fallback;
  };
  const rules = parseAlertRules(env.ALERT_RULES);
  if (!rules.ok) errors.push(rules.error);
  const settings: ObserveSettings = {
    enabled: env.METRICS_ENABLED !== "false",
    flushMs: whole("METRICS_FLUSH_MS", 2_000, 60_000),
    maxTenants: whole("METRICS_MAX_TENANTS", 20, 1_000),
    rules: rules.ok ? rules.rules : DEFAULT_ALERT_RULES,
  };
  if (errors.length > 0) console.error(JSON.stringify({ event: "config_invalid", errors }));
  memo.set(key, settings);
  return settings;
}
