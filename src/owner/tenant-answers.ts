import { DurableObject } from "cloudflare:workers";

/** A tenant's allowance of kept answers. */
export interface AnswerQuota {
  maxCount: number;
  maxBytes: number;
}

export type Admission =
  | { ok: true }
  | { ok: false; reason: "count" | "bytes"; count: number; bytes: number; quota: AnswerQuota };

/**
 * One per tenant: the answers it keeps (id, bytes, expiry), so a new one can be refused when the tenant
 * already keeps too many or too much. Bytes are known when an answer ends; while it runs, its own size
 * cap bounds it, so the quota is exceeded by at most the running answers' caps.
 */
export class TenantAnswers extends DurableObject<Env> {
  clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS kept (id TEXT PRIMARY KEY, bytes INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    );
  }

  /** Counts a new answer in, unless the tenant's count or storage is used up; expired ones are dropped first. */
  admit(id: string, expiresAt: number, quota: AnswerQuota): Admission {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM kept WHERE expires_at <= ?", this.clock());
    const used = sql
      .exec<{ count: number; bytes: number }>(
        "SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM kept",
      )
      .one();
    if (used.count >= quota.maxCount) return { ok: false, reason: "count", ...used, quota };
    if (used.bytes >= quota.maxBytes) return { ok: false, reason: "bytes", ...used, quota };
    sql.exec("INSERT OR IGNORE INTO kept (id, bytes, expires_at) VALUES (?, 0, ?)", id, expiresAt);
    return { ok: true };
  }

  record(id: string, bytes: number): void {
    this.ctx.storage.sql.exec("UPDATE kept SET bytes = ? WHERE id = ?", bytes, id);
  }

  forget(id: string): void {
    this.ctx.storage.sql.exec("DELETE FROM kept WHERE id = ?", id);
  }

  usage(): { count: number; bytes: number } {
    this.ctx.storage.sql.exec("DELETE FROM kept WHERE expires_at <= ?", this.clock());
    return this.ctx.storage.sql
      .exec<{ count: number; bytes: number }>(
        "SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM kept",
      )
      .one();
  }
}
