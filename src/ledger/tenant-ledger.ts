import { DurableObject } from "cloudflare:workers";
import type { RequestRecord } from "../trace";
import type { LedgerEntry, Spender, UsageSummary, UsageTotals } from "./entry";
import { type PromptStats, type RecordFilter, type RecordPage, RequestRecords } from "./request-records";

const RETENTION_MS = 35 * 24 * 3600_000;
const DAY_MS = 24 * 3600_000;

const TOTALS_SQL = `count(CASE WHEN kind = 'request' THEN 1 END) AS requests, sum(prompt_tokens) AS promptTokens, sum(completion_tokens) AS completionTokens,
  sum(cache_hit_tokens) AS cacheHitTokens, sum(cache_miss_tokens) AS cacheMissTokens,
  sum(reasoning_tokens) AS reasoningTokens, sum(cost_usd) AS costUsd, sum(saved_usd) AS savedUsd`;

type TotalsRow = { [K in keyof UsageTotals]: number | null };

const VALUE_COLUMNS = `at, model, pool, status, outcome, cache, prompt_tokens, completion_tokens,
  cache_hit_tokens, cache_miss_tokens, reasoning_tokens, estimated, cost_usd, saved_usd`;
const COLUMNS = `at INTEGER NOT NULL, model TEXT NOT NULL, pool TEXT, status INTEGER NOT NULL,
  outcome TEXT NOT NULL, cache TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
  cache_hit_tokens INTEGER NOT NULL, cache_miss_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
  estimated INTEGER NOT NULL, cost_usd REAL NOT NULL, saved_usd REAL NOT NULL`;
const SPENDER_COLUMNS = "key_id TEXT, end_user TEXT";

/**
 * One per tenant: the usage and cost of every inference request and of every retried attempt that
 * reached the upstream, kept 35 days in SQLite. Recording is idempotent on the router-minted entry id,
 * so a retried `recordMany` can never count a row twice, and a caller reusing its request id cannot
 * make the router forget a request.
 */
export class TenantLedger extends DurableObject<Env> {
  /** The ledger's clock. Tests replace it (through `runInDurableObject`) instead of waiting 35 days. */
  clock: () => number = () => Date.now();
  /** Request records (issue 25): what happened to each request, kept 14 days. */
  private readonly records: RequestRecords;
  /** The daily expiry alarm is set: asked of storage once per object's life, not once per write. */
  private alarmKept = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.records = new RequestRecords(sql);
    sql.exec(`CREATE TABLE IF NOT EXISTS usage_rows (
      entry_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, kind TEXT NOT NULL, ${COLUMNS}, ${SPENDER_COLUMNS})`);
    sql.exec("CREATE INDEX IF NOT EXISTS usage_rows_at ON usage_rows (at)");
    sql.exec("CREATE INDEX IF NOT EXISTS usage_rows_request ON usage_rows (request_id)");
    // Rows written before they named their spender have none: they count for the tenant only.
    const table = sql
      .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'usage_rows'")
      .one().sql;
    if (!table.includes("key_id")) {
      sql.exec("ALTER TABLE usage_rows ADD COLUMN key_id TEXT");
      sql.exec("ALTER TABLE usage_rows ADD COLUMN end_user TEXT");
    }
    // The first schema keyed rows on the caller's request id; its rows carry over as requests.
    const legacy = sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'requests'");
    if (legacy.toArray().length > 0) {
      ctx.storage.transactionSync(() => {
        sql.exec(
          `INSERT OR IGNORE INTO usage_rows (entry_id, request_id, kind, ${VALUE_COLUMNS})
            SELECT request_id, request_id, 'request', ${VALUE_COLUMNS} FROM requests`,
        );
        sql.exec("DROP TABLE requests");
      });
    }
  }

  /**
   * What each spender spent from its `from` (epoch ms) on, in USD: a dollar budget set part-way through
   * its window starts from what was already spent in it (the spend authority asks once per counter).
   */
  spentSince(spenders: ReadonlyArray<Spender & { from: number }>): number[] {
    return spenders.map(
      ({ keyId, endUser, from }) =>
        this.ctx.storage.sql
          .exec<{ usd: number | null }>(
            `SELECT sum(cost_usd) AS usd FROM usage_rows
              WHERE at >= ?1 AND (?2 IS NULL OR key_id = ?2) AND (?3 IS NULL OR end_user = ?3)`,
            from,
            keyId ?? null,
            endUser ?? null,
          )
          .one().usd ?? 0,
    );
  }

  /** Records a batch in one transaction; returns how many were new (the rest were already recorded). */
  async recordMany(entries: LedgerEntry[]): Promise<number> {
    const written = this.ctx.storage.transactionSync(() =>
      entries.reduce((n, entry) => n + this.insert(entry), 0),
    );
    await this.keepAlarm();
    return written;
  }

  /**
   * Stores request records in one transaction; returns how many were new. A flush sends each record as
   * the JSON text it made anyway for the trace queue: strings cross the RPC far cheaper than objects.
   */
  async recordRequests(records: ReadonlyArray<RequestRecord | string>): Promise<number> {
    const written = this.ctx.storage.transactionSync(() => this.records.insert(records));
    await this.keepAlarm();
    return written;
  }

  private async keepAlarm(): Promise<void> {
    if (this.alarmKept) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(this.clock() + DAY_MS);
    this.alarmKept = true;
  }

  listRequests(filter: RecordFilter): RecordPage {
    return this.records.list(filter);
  }

  request(id: string): RequestRecord | null {
    return this.records.get(id);
  }

  promptStats(from: number, to: number, shortTokens: number): PromptStats {
    return this.records.promptStats(from, to, shortTokens);
  }

  private insert(entry: LedgerEntry): number {
    const { usage } = entry;
    const cursor = this.ctx.storage.sql.exec(
      `INSERT OR IGNORE INTO usage_rows (entry_id, request_id, kind, ${VALUE_COLUMNS}, key_id, end_user)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      entry.entryId,
      entry.requestId,
      entry.kind,
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
      entry.keyId,
      entry.endUser,
    );
    return cursor.rowsWritten > 0 ? 1 : 0;
  }

  /** Every row recorded under a request id, oldest first: attempts, then the request's own. */
  entries(requestId: string): LedgerEntry[] {
    return this.ctx.storage.sql
      .exec("SELECT * FROM usage_rows WHERE request_id = ? ORDER BY at, kind", requestId)
      .toArray()
      .map(toEntry);
  }

  /** The request's own row under a request id (the latest, if a caller reused the id). */
  entry(requestId: string): LedgerEntry | null {
    return (
      this.entries(requestId)
        .filter((row) => row.kind === "request")
        .at(-1) ?? null
    );
  }

  summary(tenant: string, from: number, to: number): UsageSummary {
    const sql = this.ctx.storage.sql;
    const totals = sql
      .exec<TotalsRow>(`SELECT ${TOTALS_SQL} FROM usage_rows WHERE at >= ? AND at < ?`, from, to)
      .one();
    const byModel = sql
      .exec<TotalsRow & { model: string }>(
        `SELECT model, ${TOTALS_SQL} FROM usage_rows WHERE at >= ? AND at < ? GROUP BY model ORDER BY model`,
        from,
        to,
      )
      .toArray();
    const byDay = sql
      .exec<TotalsRow & { day: string }>(
        `SELECT strftime('%Y-%m-%d', at / 1000, 'unixepoch') AS day, ${TOTALS_SQL} FROM usage_rows WHERE at >= ? AND at < ? GROUP BY day ORDER BY day`,
        from,
        to,
      )
      .toArray();
    const byOutcome: Record<string, number> = {};
    for (const row of sql.exec<{ outcome: string; n: number }>(
      "SELECT outcome, count(*) AS n FROM usage_rows WHERE kind = 'request' AND at >= ? AND at < ? GROUP BY outcome",
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
    this.ctx.storage.sql.exec("DELETE FROM usage_rows WHERE at < ?", this.clock() - RETENTION_MS);
    const remaining = this.ctx.storage.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM usage_rows")
      .one().n;
    const records = this.records.expire(this.clock());
    // Captured payloads live exactly as long as their records (R2 deletes up to 1,000 keys a call).
    for (let i = 0; i < records.payloadKeys.length; i += 1_000) {
      await this.env.FILES.delete(records.payloadKeys.slice(i, i + 1_000));
    }
    this.alarmKept = remaining + records.remaining > 0;
    if (this.alarmKept) await this.ctx.storage.setAlarm(this.clock() + DAY_MS);
  }
}

function toEntry(row: Record<string, SqlStorageValue>): LedgerEntry {
  return {
    entryId: String(row.entry_id),
    kind: row.kind === "attempt" ? "attempt" : "request",
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
    keyId: row.key_id == null ? null : String(row.key_id),
    endUser: row.end_user == null ? null : String(row.end_user),
  };
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
