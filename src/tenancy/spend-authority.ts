import { DurableObject } from "cloudflare:workers";
import type { Alert } from "../observe/alerts";
import { FLEET } from "../observe/metrics";
import { budgetAlert, type DollarReading, reachedThresholds } from "./budget-alerts";
import {
  type CounterAsk,
  type CounterState,
  EPSILON,
  isWhole,
  type SpendAnswer,
  spareToLend,
  spenderOf,
} from "./spend";

/** Whose budgets these are, and where the tenant wants its budget alerts (besides the operator). */
export interface BudgetOwner {
  tenant: string;
  alertWebhook?: string;
}

/**
 * How long a holder's report of what it holds unspent is believed. A holder reports at each call, and
 * an idle one gives its spare back (a call) within a second or two; a busy one calls as its blocks run
 * low, which near a budget's end is often. One that went silent (an evicted isolate, or one whose only
 * requests are long answers still running) has its report counted as spent after this.
 */
export const HOLDING_FRESH_MS = 30_000;

/**
 * One per tenant: the authority over the tenant's countable budgets (and its keys'). A counter's
 * `used` is everything lent for its window, less what holders gave back, plus debts they reported; so
 * units out on lease count as spent, and the sum of what was reserved never exceeds the limit. What
 * each holder reports it holds unspent only tells a refusal for reservations from a spent budget. One
 * call does a whole request's worth of counters in one transaction: a request is admitted on all of
 * them or on none.
 */
export class SpendAuthority extends DurableObject<Env> {
  /** The authority's clock; tests replace it. */
  clock: () => number = () => Date.now();
  private prunedAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS counters (counter TEXT NOT NULL, window INTEGER NOT NULL,
      window_end INTEGER NOT NULL, used REAL NOT NULL, PRIMARY KEY (counter, window))`);
    // What each holder last reported lent to it and not spent: a refusal tells reserved from spent by it.
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS holdings (counter TEXT NOT NULL, window INTEGER NOT NULL,
      window_end INTEGER NOT NULL, holder TEXT NOT NULL, unspent REAL NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (counter, window, holder))`);
    // Which thresholds of which budget already raised their alert in a window: each fires once, and a
    // budget raised (or lowered) part-way through a window has thresholds of its own. (It replaces
    // `budget_alerts`, which did not name the budget: a raise re-alerts at most once a threshold.)
    ctx.storage.sql.exec("DROP TABLE IF EXISTS budget_alerts");
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS budget_thresholds (counter TEXT NOT NULL,
      window INTEGER NOT NULL, window_end INTEGER NOT NULL, budget REAL NOT NULL, threshold INTEGER NOT NULL,
      PRIMARY KEY (counter, window, budget, threshold))`);
  }

  /**
   * Takes back what is given, then grants every need (and some spare) or, if any need does not fit,
   * none. A dollar budget that reaches 50%, 80% or 100% (or refuses) raises its alert, once per window.
   * `holder` names the calling isolate's holder, whose asks report what it holds unspent.
   */
  async lend(
    asks: CounterAsk[],
    owner: BudgetOwner = { tenant: "unknown" },
    holder?: string,
  ): Promise<SpendAnswer> {
    this.prune();
    await this.seed(asks, owner.tenant);
    const answer = this.grant(asks, holder);
    const alerts = this.budgetAlerts(asks, answer, owner.tenant);
    if (alerts.length > 0) this.ctx.waitUntil(this.raise(alerts, owner));
    return answer;
  }

  private grant(asks: CounterAsk[], holder: string | undefined): SpendAnswer {
    return this.ctx.storage.transactionSync(() => {
      const used = asks.map((ask) => Math.max(0, this.read(ask) - ask.give));
      const refused = asks.find((ask, i) => ask.need > 0 && (used[i] ?? 0) + ask.need > ask.limit + EPSILON);
      const counters: CounterState[] = asks.map((ask, i) => {
        const before = used[i] ?? 0;
        const granted = refused
          ? 0
          : ask.need + spareToLend(ask.kind, ask.limit - before - ask.need, ask.want);
        this.write(ask, before + granted);
        // What it grants is lent and not yet spent too. Only a dollar refusal reads these.
        if (holder && ask.unspent !== undefined && !isWhole(ask.kind))
          this.hold(ask, holder, ask.unspent + granted);
        return { counter: ask.counter, granted, used: before + granted };
      });
      if (!refused) return { ok: true, counters };
      const { counter, kind, limit } = refused;
      const unspentElsewhere = !isWhole(kind) ? this.unspentElsewhere(refused, holder) : undefined;
      return { ok: false, counters, refused: { counter, kind, limit, unspentElsewhere } };
    });
  }

  private hold(ask: CounterAsk, holder: string, unspent: number): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO holdings VALUES (?, ?, ?, ?, ?, ?)",
      ask.counter,
      ask.window,
      ask.windowEnd,
      holder,
      unspent,
      this.clock(),
    );
  }

  /** What the other holders last reported (within {@link HOLDING_FRESH_MS}) lent to them and not spent. */
  private unspentElsewhere(ask: CounterAsk, holder: string | undefined): number {
    return (
      this.ctx.storage.sql
        .exec<{ unspent: number | null }>(
          "SELECT sum(unspent) AS unspent FROM holdings WHERE counter = ? AND window = ? AND holder != ? AND at > ?",
          ask.counter,
          ask.window,
          holder ?? "",
          this.clock() - HOLDING_FRESH_MS,
        )
        .one().unspent ?? 0
    );
  }

  /**
   * Alerts for dollar thresholds this call reached first in their window, judged only on asks that
   * spend or were refused: a holder giving back idle spare may still carry the budget it was lent
   * under, and a budget raised since would read as spent.
   */
  private budgetAlerts(asks: CounterAsk[], answer: SpendAnswer, tenant: string): Alert[] {
    const now = this.clock();
    const alerts: Alert[] = [];
    asks.forEach((ask, i) => {
      if (ask.kind !== "usd-day" && ask.kind !== "usd-month") return;
      const refused = !answer.ok && answer.refused.counter === ask.counter;
      if (!refused && ask.need <= 0 && ask.give >= 0) return;
      const reading: DollarReading = { ask, used: answer.counters[i]?.used ?? 0, refused };
      for (const threshold of reachedThresholds(reading)) {
        const first = this.ctx.storage.sql.exec(
          "INSERT OR IGNORE INTO budget_thresholds VALUES (?, ?, ?, ?, ?)",
          ask.counter,
          ask.window,
          ask.windowEnd,
          ask.limit,
          Math.round(threshold * 100),
        ).rowsWritten;
        if (first > 0) alerts.push(budgetAlert(tenant, reading, threshold, now));
      }
    });
    return alerts;
  }

  /** Onto the alert queue: for the operator, and for the tenant when it names a webhook of its own. */
  private async raise(alerts: Alert[], { tenant, alertWebhook }: BudgetOwner): Promise<void> {
    const messages = alerts.flatMap((alert) => [
      { body: alert },
      ...(alertWebhook ? [{ body: { ...alert, webhook: alertWebhook } }] : []),
    ]);
    await Promise.all([
      this.env.ALERTS.sendBatch(messages).catch((error: unknown) =>
        console.error(JSON.stringify({ event: "alert_enqueue_failed", tenant, error: String(error) })),
      ),
      // Listed and counted with the fleet's alerts (the aggregator logs each line).
      this.env.METRICS.getByName(FLEET)
        .alertsRaised(alerts)
        .catch((error: unknown) =>
          console.error(JSON.stringify({ event: "alert_log_failed", tenant, error: String(error) })),
        ),
    ]);
  }

  /** What each counter has used in its window, for /v1/usage; `tenant` seeds a dollar counter not yet kept. */
  async used(
    counters: Array<Pick<CounterAsk, "counter" | "kind" | "window" | "windowEnd">>,
    tenant?: string,
  ) {
    if (tenant !== undefined) await this.seed(counters, tenant);
    return counters.map((ask) => this.read(ask));
  }

  /**
   * A dollar counter starts, the first time it is asked for in its window, from what the tenant's
   * ledger already holds for that window: a budget set part-way through a day (an operator capping a
   * tenant or key that is spending) covers the whole day, not only what is spent after it. Spend of
   * requests still running when the limit was set, and not yet in the ledger, is not seen. A ledger
   * that cannot answer seeds nothing, and the counter starts at zero as before.
   */
  private async seed(
    asks: Array<Pick<CounterAsk, "counter" | "kind" | "window" | "windowEnd">>,
    tenant: string,
  ) {
    const unseen = asks.filter((ask) => !isWhole(ask.kind) && this.stored(ask) === undefined);
    if (unseen.length === 0) return;
    const spent = await this.env.TENANT_LEDGER.getByName(tenant)
      .spentSince(unseen.map((ask) => ({ ...spenderOf(ask.counter), from: ask.window })))
      .catch((error: unknown) => {
        console.warn(JSON.stringify({ event: "budget_seed_failed", tenant, error: String(error) }));
        return unseen.map(() => 0);
      });
    // Another call may have seeded (or spent on) the counter while the ledger answered: it stays as is.
    unseen.forEach((ask, i) => {
      this.ctx.storage.sql.exec(
        "INSERT OR IGNORE INTO counters VALUES (?, ?, ?, ?)",
        ask.counter,
        ask.window,
        ask.windowEnd,
        spent[i] ?? 0,
      );
    });
  }

  private read(ask: Pick<CounterAsk, "counter" | "window">): number {
    return this.stored(ask) ?? 0;
  }

  /** The counter's row for its window; undefined before its first ask there. */
  private stored(ask: Pick<CounterAsk, "counter" | "window">): number | undefined {
    return this.ctx.storage.sql
      .exec<{ used: number }>(
        "SELECT used FROM counters WHERE counter = ? AND window = ?",
        ask.counter,
        ask.window,
      )
      .toArray()[0]?.used;
  }

  private write(ask: CounterAsk, used: number): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO counters VALUES (?, ?, ?, ?)",
      ask.counter,
      ask.window,
      ask.windowEnd,
      used,
    );
  }

  /** Ended windows are dropped, at most once a minute. */
  private prune(): void {
    const now = this.clock();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    this.ctx.storage.sql.exec("DELETE FROM counters WHERE window_end <= ?", now);
    this.ctx.storage.sql.exec("DELETE FROM budget_thresholds WHERE window_end <= ?", now);
    this.ctx.storage.sql.exec(
      "DELETE FROM holdings WHERE window_end <= ? OR at <= ?",
      now,
      now - HOLDING_FRESH_MS,
    );
  }
}
