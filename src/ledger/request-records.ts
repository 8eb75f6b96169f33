import type { RequestRecord } from "../trace";
import type { UsageTotals } from "./entry";

export { recordId } from "../trace";

/** How long a tenant's request records are kept (the ledger's daily alarm deletes older ones). */
export const RECORD_RETENTION_MS = 14 * 24 * 3600_000;

/** The most records one page returns. */
export const MAX_PAGE = 100;

/** What a list of records may be narrowed to; every field is optional. */
export interface RecordFilter {
  from?: number;
  to?: number;
  /** The served or the asked model. */
  model?: string;
  outcome?: string;
  status?: number;
  /** Latency at or over this many ms. */
  slowMs?: number;
  /** Cost at or over this many USD. */
  minCostUsd?: number;
  /** `HIT`, `MISS`, `COALESCED`, …; `none` for requests the cache was not consulted on. */
  cache?: string;
  requestId?: string;
  /** The id of the last record of the previous page: the next page is older. */
  after?: string;
  limit: number;
}

/** One page of records, newest first; `has_more` when older ones match too. */
export interface RecordPage {
  data: RequestRecord[];
  hasMore: boolean;
}

/**
 * The request records of one tenant in its ledger's SQLite: the filterable columns, and the record as
 * JSON. Idempotent on the record id, so a retried batch never stores a record twice.
 */
export class RequestRecords {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS request_records (
      id TEXT PRIMARY KEY, at INTEGER NOT NULL, request_id TEXT NOT NULL, model TEXT NOT NULL,
      asked_model TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL, cache TEXT,
      latency_ms REAL NOT NULL, cost_usd REAL NOT NULL, body TEXT NOT NULL,
      type TEXT, family TEXT, prefix_hash TEXT, prompt_hash TEXT, prefix_tokens INTEGER NOT NULL,
      prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cache_hit_tokens INTEGER NOT NULL,
      cache_miss_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, payload_key TEXT)`);
    sql.exec("CREATE INDEX IF NOT EXISTS request_records_request ON request_records (request_id)");
  }

  /**
   * Stores records, each given as the record or as its JSON text (a flush sends the text it made once
   * for the queue as well): the text is kept as the body as it is. Bound parameters, one statement per
   * record: cheaper in SQLite than extracting the columns out of the JSON with `->>`, which parses the
   * whole record once per column. Returns how many were new.
   */
  insert(records: ReadonlyArray<RequestRecord | string>): number {
    let written = 0;
    for (const given of records) {
      const r = typeof given === "string" ? (JSON.parse(given) as RequestRecord) : given;
      try {
        written += this.insertOne(r, typeof given === "string" ? given : JSON.stringify(r));
      } catch (error) {
        // One record SQLite refuses (past its size limit, say) must not take its batch's others with it.
        console.error(JSON.stringify({ event: "request_record_refused", id: r.id, error: String(error) }));
      }
    }
    return written;
  }

  /** One record, as its filter columns and its JSON; 1 when it was new. */
  private insertOne(r: RequestRecord, json: string): number {
    const cursor = this.sql.exec(
      "INSERT OR IGNORE INTO request_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      r.id,
      r.at,
      r.requestId,
      r.model,
      r.askedModel,
      r.status,
      r.outcome,
      r.cache ?? null,
      r.latencyMs,
      r.costUsd,
      json,
      r.classification?.type ?? null,
      r.prompt?.family ?? null,
      r.prompt?.prefixHash ?? null,
      r.prompt?.promptHash ?? null,
      r.prompt?.prefixTokens ?? 0,
      r.usage.promptTokens,
      r.usage.completionTokens,
      r.usage.cacheHitTokens,
      r.usage.cacheMissTokens,
      r.usage.reasoningTokens,
      r.payload?.key ?? null,
    );
    return cursor.rowsWritten > 0 ? 1 : 0;
  }

  list(filter: RecordFilter): RecordPage {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    const add = (clause: string, value: SqlStorageValue | undefined) => {
      if (value === undefined) return;
      where.push(clause);
      args.push(value);
    };
    add("at >= ?", filter.from);
    add("at < ?", filter.to);
    if (filter.model !== undefined) {
      where.push("(model = ? OR asked_model = ?)");
      args.push(filter.model, filter.model);
    }
    add("outcome = ?", filter.outcome);
    add("status = ?", filter.status);
    add("latency_ms >= ?", filter.slowMs);
    add("cost_usd >= ?", filter.minCostUsd);
    if (filter.cache === "none") where.push("cache IS NULL");
    else add("cache = ?", filter.cache?.toUpperCase());
    add("request_id = ?", filter.requestId);
    add("id < ?", filter.after);
    const sql = `SELECT body FROM request_records ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY id DESC LIMIT ?`;
    const rows = this.sql.exec<{ body: string }>(sql, ...args, filter.limit + 1).toArray();
    return {
      data: rows.slice(0, filter.limit).map((row) => JSON.parse(row.body) as RequestRecord),
      hasMore: rows.length > filter.limit,
    };
  }

  get(id: string): RequestRecord | null {
    const row = this.sql
      .exec<{ body: string }>("SELECT body FROM request_records WHERE id = ?", id)
      .toArray()[0];
    return row ? (JSON.parse(row.body) as RequestRecord) : null;
  }

  /**
   * What the prompt-cost insights need over `[from, to)`, from requests that reached the upstream
   * (answered, not by the router's cache): per prompt family and model, reasoning answers under
   * `shortTokens`, and prompts sent more than once.
   */
  promptStats(from: number, to: number, shortTokens: number): PromptStats {
    const upstream = `at >= ? AND at < ? AND outcome IN ('complete', 'truncated') AND family IS NOT NULL
      AND (cache IS NULL OR cache NOT IN ('HIT', 'COALESCED', 'STALE'))`;
    const families = this.sql
      .exec<FamilyRow>(
        `SELECT family, model, count(*) AS requests, count(DISTINCT prefix_hash) AS prefixes,
          avg(prefix_tokens) AS prefixTokens, ${USAGE_SUMS}
        FROM request_records WHERE ${upstream} GROUP BY family, model ORDER BY costUsd DESC LIMIT 50`,
        from,
        to,
      )
      .toArray();
    const reasoning = this.sql
      .exec<{ model: string; requests: number }>(
        `SELECT model, count(*) AS requests FROM request_records WHERE ${upstream} AND type = 'reasoning' GROUP BY model`,
        from,
        to,
      )
      .toArray();
    const shortReasoning = this.sql
      .exec<UsageRow & { model: string; requests: number }>(
        `SELECT model, count(*) AS requests, ${USAGE_SUMS}
        FROM request_records WHERE ${upstream} AND type = 'reasoning' AND completion_tokens - reasoning_tokens < ?
        GROUP BY model`,
        from,
        to,
        shortTokens,
      )
      .toArray();
    const repeats = this.sql
      .exec<{ requests: number; repeated: number; repeatedCostUsd: number | null; distinctPrompts: number }>(
        `SELECT sum(n) AS requests, sum(n - 1) AS repeated, sum(c * (n - 1) / n) AS repeatedCostUsd, count(*) AS distinctPrompts
        FROM (SELECT count(*) AS n, sum(cost_usd) AS c FROM request_records WHERE ${upstream} GROUP BY prompt_hash)`,
        from,
        to,
      )
      .one();
    return {
      families,
      reasoning: reasoning.map(({ model, requests }) => ({
        model,
        requests,
        short: shortReasoning.find((row) => row.model === model)?.requests ?? 0,
      })),
      shortReasoning,
      repeats: {
        requests: repeats.requests ?? 0,
        repeated: repeats.repeated ?? 0,
        repeatedCostUsd: repeats.repeatedCostUsd ?? 0,
      },
    };
  }

  /** Deletes records older than the retention; returns how many remain and the payloads they named. */
  expire(now: number): { remaining: number; payloadKeys: string[] } {
    const cutoff = now - RECORD_RETENTION_MS;
    const payloadKeys = this.sql
      .exec<{ key: string }>(
        "SELECT DISTINCT payload_key AS key FROM request_records WHERE at < ? AND payload_key IS NOT NULL",
        cutoff,
      )
      .toArray()
      .map((row) => row.key);
    this.sql.exec("DELETE FROM request_records WHERE at < ?", cutoff);
    const remaining = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM request_records").one().n;
    return { remaining, payloadKeys };
  }
}

const USAGE_SUMS = `sum(prompt_tokens) AS promptTokens, sum(completion_tokens) AS completionTokens,
  sum(cache_hit_tokens) AS cacheHitTokens, sum(cache_miss_tokens) AS cacheMissTokens,
  sum(reasoning_tokens) AS reasoningTokens, sum(cost_usd) AS costUsd`;

/** Summed usage and cost of a group of records: the ledger's totals without its counts and savings. */
export type UsageRow = Omit<UsageTotals, "requests" | "savedUsd">;

export type FamilyRow = UsageRow & {
  family: string;
  model: string;
  requests: number;
  /** Distinct exact prefixes in the family: as many as requests means the prefix changes every time. */
  prefixes: number;
  prefixTokens: number;
};

export interface PromptStats {
  families: FamilyRow[];
  /** Per model: reasoning requests, and how many answered in under the short threshold. */
  reasoning: Array<{ model: string; requests: number; short: number }>;
  shortReasoning: Array<UsageRow & { model: string; requests: number }>;
  repeats: { requests: number; repeated: number; repeatedCostUsd: number };
}

/** Pages of several tenants, each newest first, merged into one page of at most `limit`. */
export function mergePages(pages: RecordPage[], limit: number): RecordPage {
  const all = pages.flatMap((page) => page.data).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return {
    data: all.slice(0, limit),
    hasMore: all.length > limit || pages.some((page) => page.hasMore),
  };
}
