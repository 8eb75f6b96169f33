import type { RequestRecord } from "../trace";

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
 * A record id that sorts by time: `req_` + the epoch ms in 12 hex digits + 12 random hex digits. Pages
 * are ordered by id alone, so a cursor is just the last id, and pages of several tenants merge by id.
 */
export function recordId(at: number, random: string): string {
  return `req_${at.toString(16).padStart(12, "0")}${random.slice(0, 12)}`;
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
      latency_ms REAL NOT NULL, cost_usd REAL NOT NULL, body TEXT NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS request_records_request ON request_records (request_id)");
  }

  /** Returns how many were new. */
  insert(records: RequestRecord[]): number {
    let written = 0;
    for (const r of records) {
      const cursor = this.sql.exec(
        "INSERT OR IGNORE INTO request_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        JSON.stringify(r),
      );
      written += cursor.rowsWritten > 0 ? 1 : 0;
    }
    return written;
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

  /** Deletes records older than the retention; returns how many remain. */
  expire(now: number): number {
    this.sql.exec("DELETE FROM request_records WHERE at < ?", now - RECORD_RETENTION_MS);
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM request_records").one().n;
  }
}

/** Pages of several tenants, each newest first, merged into one page of at most `limit`. */
export function mergePages(pages: RecordPage[], limit: number): RecordPage {
  const all = pages.flatMap((page) => page.data).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return {
    data: all.slice(0, limit),
    hasMore: all.length > limit || pages.some((page) => page.hasMore),
  };
}
