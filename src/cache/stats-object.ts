import { DurableObject } from "cloudflare:workers";
import { type CacheCounters, COUNTER_NAMES, zeroCounters } from "./stats";

/**
 * One per tenant: the cache's running counters, in SQLite. Isolates send batched deltas (at most one
 * per isolate per second per tenant), so one object per tenant stays far below its request limit.
 */
export class CacheStats extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL)");
  }

  add(delta: CacheCounters): void {
    // Statements issued without an intervening await commit together.
    for (const name of COUNTER_NAMES) {
      const value = delta[name];
      if (!Number.isFinite(value) || value === 0) continue;
      this.ctx.storage.sql.exec(
        "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        name,
        value,
      );
    }
  }

  read(): CacheCounters {
    const counters = zeroCounters();
    for (const row of this.ctx.storage.sql.exec<{ name: string; value: number }>(
      "SELECT name, value FROM counters",
    )) {
      if ((COUNTER_NAMES as readonly string[]).includes(row.name))
        counters[row.name as keyof CacheCounters] = row.value;
    }
    return counters;
  }
}
