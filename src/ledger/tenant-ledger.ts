import { DurableObject } from "cloudflare:workers";
import type { LedgerEntry, UsageSummary, UsageTotals } from "./entry";

const RETENTION_MS = 35 * 24 * 3600_000;
const DAY_MS = 24 * 3600_000;

const TOTALS_SQL = `count(*) AS requests, sum(prompt_tokens) AS promptTokens, sum(completion_tokens) AS completionTokens,
  sum(cache_hit_tokens) AS cacheHitTokens, sum(cache_miss_tokens) AS cacheMissTokens,
  sum(reasoning_tokens) AS reasoningTokens, sum(cost_usd) AS costUsd, sum(saved_usd) AS savedUsd`;

type TotalsRow = { [K in keyof UsageTotals]: number | null };

/**
 * One per tenant: every inference request's usage and cost, kept 35 days in SQLite. Recording is
 * idempotent on the request id, so a retried `recordMany` can never count a request twice.
 */
export class TenantLedger extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS requests (
      request_id TEXT PRIMARY KEY, at INTEGER NOT NULL, model TEXT NOT NULL, pool TEXT, status INTEGER NOT NULL,
      outcome TEXT NOT NULL, cache TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
      cache_hit_tokens INTEGER NOT NULL, cache_miss_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
      estimated INTEGER NOT NULL, cost_usd REAL NOT NULL, saved_usd REAL NOT NULL)`);
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS requests_at ON requests (at)");
  }

  /** Records a batch in one transaction; returns how many were new (the rest were already recorded). */
  async recordMany(entries: LedgerEntry[]): Promise<number> {
    const written = this.ctx.storage.transactionSync(() =>
      entries.reduce((n, entry) => n + this.insert(entry), 0),
    );
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + DAY_MS);
    return written;
  }

  private insert(entry: LedgerEntry): number {
    const { usage } = entry;
    const cursor = this.ctx.storage.sql.exec(
      `INSERT OR IGNORE INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      entry.requestId,
      entry.at,
      entry.model,
      entry.pool,
      entry.status,
      entry.outcome,
      entry.cache,
      usage.promptTokens,
      usage.completionTokens,
      usage.cacheHitTokens,
      usage.cacheMissTokens,
      usage.reasoningTokens,
      entry.estimated ? 1 : 0,
      entry.costUsd,
      entry.savedUsd,
    );
    return cursor.rowsWritten > 0 ? 1 : 0;
  }

  entry(requestId: string): LedgerEntry | null {
    const row = this.ctx.storage.sql
      .exec("SELECT * FROM requests WHERE request_id = ?", requestId)
      .toArray()[0];
    if (!row) return null;
    return {
      requestId: String(row.request_id),
      at: Number(row.at),
      model: String(row.model),
      pool: row.pool === null ? null : String(row.pool),
      status: Number(row.status),
      outcome: String(row.outcome) as LedgerEntry["outcome"],
      cache: row.cache === null ? null : String(row.cache),
      usage: {
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
        cacheHitTokens: Number(row.cache_hit_tokens),
        cacheMissTokens: Number(row.cache_miss_tokens),
        reasoningTokens: Number(row.reasoning_tokens),
      },
      estimated: row.estimated === 1,
      costUsd: Number(row.cost_usd),
      savedUsd: Number(row.saved_usd),
    };
  }

  summary(tenant: string, from: number, to: number): UsageSummary {
    const sql = this.ctx.storage.sql;
    const totals = sql
      .exec<TotalsRow>(`SELECT ${TOTALS_SQL} FROM requests WHERE at >= ? AND at < ?`, from, to)
      .one();
    const byModel = sql
      .exec<TotalsRow & { model: string }>(
        `SELECT model, ${TOTALS_SQL} FROM requests WHERE at >= ? AND at < ? GROUP BY model ORDER BY model`,
        from,
        to,
      )
      .toArray();
    const byDay = sql
      .exec<TotalsRow & { day: string }>(
        `SELECT strftime('%Y-%m-%d', at / 1000, 'unixepoch') AS day, ${TOTALS_SQL} FROM requests WHERE at >= ? AND at < ? GROUP BY day ORDER BY day`,
        from,
        to,
      )
      .toArray();
    const byOutcome: Record<string, number> = {};
    for (const row of sql.exec<{ outcome: string; n: number }>(
      "SELECT outcome, count(*) AS n FROM requests WHERE at >= ? AND at < ? GROUP BY outcome",
      from,
      to,
    )) {
      byOutcome[row.outcome] = row.n;
    }
    return {
      tenant,
      from,
      to,
      totals: clean(totals),
      byModel: byModel.map((row) => ({ model: row.model, ...clean(row) })),
      byDay: byDay.map((row) => ({ day: row.day, ...clean(row) })),
      byOutcome,
    };
  }

  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM requests WHERE at < ?", Date.now() - RETENTION_MS);
    const remaining = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM requests").one().n;
    if (remaining > 0) await this.ctx.storage.setAlarm(Date.now() + DAY_MS);
  }
}

function clean(row: TotalsRow): UsageTotals {
  return {
    requests: row.requests ?? 0,
    promptTokens: row.promptTokens ?? 0,
    completionTokens: row.completionTokens ?? 0,
    cacheHitTokens: row.cacheHitTokens ?? 0,
    cacheMissTokens: row.cacheMissTokens ?? 0,
    reasoningTokens: row.reasoningTokens ?? 0,
    costUsd: round6(row.costUsd ?? 0),
    savedUsd: round6(row.savedUsd ?? 0),
  };
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
