import { sha256Hex } from "../bytes";
import type { PoolSpec } from "../config/policy";
import { secretOf } from "../upstream/providers/types";
import type { Alert, AlertRules } from "./alerts";

/**
 * Reconciliation with the upstream's own books: DeepSeek's `GET /user/balance` falls by what the
 * account is billed, so its fall over a period, next to what the router recorded over the same
 * period, shows spend the router missed (or invented). A router that under-counts by 5% loses 5% of
 * every invoice it passes on; this is how an operator finds out.
 */

/** What DeepSeek's balances are converted at when an account holds CNY (the simulator's rate too). */
export const CNY_PER_USD = 7.2;

/** The first reading: where both books stood when the comparison began. */
export interface Baseline {
  at: number;
  balanceUsd: number;
  recordedUsd: number;
  /**
   * Which accounts the balance sums (`accountsFingerprint`). A balance summed over other accounts is
   * not comparable: an account taken out of the policy would read as its whole balance spent.
   */
  accounts?: string;
}

export interface Reconciliation {
  from: number;
  to: number;
  /** What the upstream accounts' balances fell by since the baseline. */
  upstreamUsd: number;
  /** What the router recorded (its cost counters) since the baseline. */
  recordedUsd: number;
  /** (upstream − recorded) ÷ upstream: positive when the router under-counts; 0 before any spend. */
  drift: number;
  /**
   * What the upstream must have billed before the drift means anything (`minDriftUsd`): its balance is
   * read to the cent, so over a few cents of spend the drift is mostly rounding.
   */
  judgedFromUsd?: number;
}

/**
 * Compares a new reading with the baseline. A balance that rose (a top-up), or one read over another
 * set of accounts, starts a new baseline.
 */
export function reconcile(
  baseline: Baseline | undefined,
  reading: Baseline,
): { baseline: Baseline; result: Reconciliation | undefined } {
  const comparable =
    baseline && baseline.accounts === reading.accounts && reading.balanceUsd <= baseline.balanceUsd + 1e-9;
  if (!comparable) return { baseline: reading, result: undefined };
  const upstreamUsd = baseline.balanceUsd - reading.balanceUsd;
  const recordedUsd = reading.recordedUsd - baseline.recordedUsd;
  const drift = upstreamUsd > 0 ? (upstreamUsd - recordedUsd) / upstreamUsd : 0;
  return { baseline, result: { from: baseline.at, to: reading.at, upstreamUsd, recordedUsd, drift } };
}

/** An alert when the drift passes the configured share, judged only once enough was spent. */
export function driftAlert(result: Reconciliation, rules: AlertRules): Alert | undefined {
  if (result.upstreamUsd < rules.minDriftUsd || Math.abs(result.drift) <= rules.spendDrift) return undefined;
  const key = "spend_drift:fleet";
  const share = `${(result.drift * 100).toFixed(1)}%`;
  const since = new Date(result.from).toISOString();
  return {
    id: `${key}@${result.to}`,
    kind: "spend_drift",
    key,
    at: result.to,
    summary:
      result.drift > 0
        ? `The router recorded ${share} less than the upstream billed since ${since}.`
        : `The router recorded ${share.replace("-", "")} more than the upstream billed since ${since}.`,
    details: {
      upstreamUsd: round6(result.upstreamUsd),
      recordedUsd: round6(result.recordedUsd),
      drift: Math.round(result.drift * 10_000) / 10_000,
      threshold: rules.spendDrift,
      since,
    },
  };
}

/** The DeepSeek accounts behind the pools, once each (two targets may share an account's key). */
export function upstreamAccounts(
  pools: Record<string, PoolSpec>,
  env: object,
): Array<{ baseUrl: string; key: string }> {
  const accounts = new Map<string, { baseUrl: string; key: string }>();
  for (const pool of Object.values(pools)) {
    if (pool.provider !== "deepseek") continue;
    for (const target of pool.targets) {
      const key = secretOf(env, target);
      const baseUrl = target.baseUrl ?? "";
      if (key && baseUrl) accounts.set(`${baseUrl} ${key}`, { baseUrl, key });
    }
  }
  return [...accounts.values()];
}

/** Names a set of accounts without holding their keys: a digest of each account's base URL and key. */
export async function accountsFingerprint(
  accounts: Array<{ baseUrl: string; key: string }>,
): Promise<string> {
  const each = await Promise.all(accounts.map(({ baseUrl, key }) => sha256Hex(`${baseUrl} ${key}`)));
  return sha256Hex(each.sort().join(","));
}

/** The accounts' balances together, in USD; undefined when any cannot be read (no half readings). */
export async function upstreamBalanceUsd(
  accounts: Array<{ baseUrl: string; key: string }>,
  send: typeof fetch = fetch,
): Promise<number | undefined> {
  const balances = await Promise.all(
    accounts.map(async ({ baseUrl, key }) => {
      const response = await send(`${baseUrl.replace(/\/$/, "")}/user/balance`, {
        headers: { authorization: `Bearer ${key}` },
        signal: AbortSignal.timeout(5_000),
      }).catch(() => undefined);
      if (!response?.ok) return undefined;
      return balanceUsd(await response.json().catch(() => undefined));
    }),
  );
  if (balances.some((b) => b === undefined)) return undefined;
  return balances.reduce<number>((sum, b) => sum + (b ?? 0), 0);
}

/** DeepSeek's balance body: each currency's `total_balance` as a decimal string. */
function balanceUsd(body: unknown): number | undefined {
  const infos = (body as { balance_infos?: Array<{ currency?: string; total_balance?: string }> })
    ?.balance_infos;
  if (!Array.isArray(infos)) return undefined;
  let usd = 0;
  for (const info of infos) {
    const amount = Number(info.total_balance);
    if (!Number.isFinite(amount)) return undefined;
    usd += info.currency === "CNY" ? amount / CNY_PER_USD : amount;
  }
  return usd;
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
