import { DurableObject } from "cloudflare:workers";
import type { Limits } from "../config/limits";
import type { ManagedTenant } from "../config/tenants";
import {
  createTenantTable,
  insertTenantRow,
  listTenantRows,
  type TenantRecord,
  tenantRow,
  updateTenantRow,
} from "./tenant-table";

/** A managed router key as the admin API shows it: never its secret, only the secret's last characters. */
export interface KeyRecord {
  id: string;
  tenant: string;
  name: string;
  limits: Limits;
  disabled: boolean;
  createdAt: number;
  /** The last four characters of each valid secret, newest first (two during a rotation's grace). */
  hints: string[];
  /**
   * When an isolate last looked the key up for a request (null: never). Isolates cache a lookup for the
   * key cache's TTL, so a key in use shows a time at most that old.
   */
  lastUsedAt: number | null;
}

/** What a request authenticated with a managed key learns about it. */
export interface KeyGrant {
  id: string;
  tenant: string;
  name: string;
  limits: Limits;
}

export interface NewSecret {
  /** SHA-256 hex digest of the secret; the secret itself never reaches the registry. */
  digest: string;
  hint: string;
}

type Row = Record<string, SqlStorageValue>;

/**
 * The one registry of managed router keys (a single object, `registry`): strongly consistent, so a
 * create, rotation, disable or delete is final when the admin API answers. A key's identity (id, name,
 * limits) is separate from its secrets: a rotation adds a secret and gives the old one a grace period.
 * Only SHA-256 digests of secrets are stored. Every call is scoped by tenant: a key id of another
 * tenant is simply not found.
 */
export class KeyRegistry extends DurableObject<Env> {
  /** The registry's clock; tests replace it. */
  clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL,
      limits TEXT NOT NULL, disabled INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS keys_tenant ON keys (tenant)");
    sql.exec(`CREATE TABLE IF NOT EXISTS secrets (digest TEXT PRIMARY KEY, key_id TEXT NOT NULL,
      hint TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER)`);
    sql.exec("CREATE INDEX IF NOT EXISTS secrets_key ON secrets (key_id)");
    createTenantTable(sql);
    const columns = sql.exec<{ name: string }>("PRAGMA table_info(keys)").toArray();
    if (!columns.some((column) => column.name === "last_used_at")) {
      sql.exec("ALTER TABLE keys ADD COLUMN last_used_at INTEGER");
    }
  }

  create(tenant: string, name: string, limits: Limits, secret: NewSecret): KeyRecord {
    const id = `key_${crypto.randomUUID().replaceAll("-", "")}`;
    const now = this.clock();
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "INSERT INTO keys (id, tenant, name, limits, disabled, created_at) VALUES (?, ?, ?, ?, 0, ?)",
        id,
        tenant,
        name,
        JSON.stringify(limits),
        now,
      );
      this.addSecret(id, secret, now);
    });
    return this.record(tenant, id) as KeyRecord;
  }

  list(tenant: string): KeyRecord[] {
    return this.ctx.storage.sql
      .exec("SELECT * FROM keys WHERE tenant = ? ORDER BY created_at, id", tenant)
      .toArray()
      .map((row) => this.toRecord(row));
  }

  get(tenant: string, id: string): KeyRecord | null {
    return this.record(tenant, id);
  }

  update(
    tenant: string,
    id: string,
    change: { name?: string; limits?: Limits; disabled?: boolean },
  ): KeyRecord | null {
    const current = this.record(tenant, id);
    if (!current) return null;
    this.ctx.storage.sql.exec(
      "UPDATE keys SET name = ?, limits = ?, disabled = ? WHERE id = ?",
      change.name ?? current.name,
      JSON.stringify(change.limits ?? current.limits),
      (change.disabled ?? current.disabled) ? 1 : 0,
      id,
    );
    return this.record(tenant, id);
  }

  /** A new secret for the key; the old ones stay valid for `graceMs` (0: they stop now). */
  rotate(tenant: string, id: string, secret: NewSecret, graceMs: number): KeyRecord | null {
    if (!this.record(tenant, id)) return null;
    const now = this.clock();
    this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql;
      if (graceMs === 0) sql.exec("DELETE FROM secrets WHERE key_id = ?", id);
      else {
        sql.exec(
          "UPDATE secrets SET expires_at = min(coalesce(expires_at, ?1), ?1) WHERE key_id = ?2",
          now + graceMs,
          id,
        );
      }
      this.addSecret(id, secret, now);
    });
    return this.record(tenant, id);
  }

  remove(tenant: string, id: string): boolean {
    if (!this.record(tenant, id)) return false;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("DELETE FROM secrets WHERE key_id = ?", id);
      this.ctx.storage.sql.exec("DELETE FROM keys WHERE id = ?", id);
    });
    return true;
  }

  /** The key a secret's digest belongs to, if it is enabled and the secret has not expired. */
  lookup(digest: string): KeyGrant | null {
    const row = this.ctx.storage.sql
      .exec(
        `SELECT keys.* FROM secrets JOIN keys ON keys.id = secrets.key_id
         WHERE secrets.digest = ? AND keys.disabled = 0 AND (secrets.expires_at IS NULL OR secrets.expires_at > ?)`,
        digest,
        this.clock(),
      )
      .toArray()[0];
    if (!row) return null;
    this.ctx.storage.sql.exec("UPDATE keys SET last_used_at = ? WHERE id = ?", this.clock(), row.id);
    return {
      id: String(row.id),
      tenant: String(row.tenant),
      name: String(row.name),
      limits: JSON.parse(String(row.limits)),
    };
  }

  /** Tenants of the admin API (tenant-table.ts); the route has validated and merged the settings. */
  listTenants(): TenantRecord[] {
    return listTenantRows(this.ctx.storage.sql);
  }

  getTenant(id: string): TenantRecord | null {
    return tenantRow(this.ctx.storage.sql, id);
  }

  /** Null when the id is taken. */
  createTenant(tenant: ManagedTenant): TenantRecord | null {
    if (!insertTenantRow(this.ctx.storage.sql, tenant, this.clock())) return null;
    return tenantRow(this.ctx.storage.sql, tenant.id);
  }

  /** Null when there is no such tenant. */
  updateTenant(tenant: ManagedTenant): TenantRecord | null {
    if (!updateTenantRow(this.ctx.storage.sql, tenant, this.clock())) return null;
    return tenantRow(this.ctx.storage.sql, tenant.id);
  }

  private addSecret(id: string, secret: NewSecret, now: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM secrets WHERE key_id = ? AND expires_at IS NOT NULL AND expires_at <= ?", id, now);
    sql.exec("INSERT INTO secrets VALUES (?, ?, ?, ?, NULL)", secret.digest, id, secret.hint, now);
  }

  private record(tenant: string, id: string): KeyRecord | null {
    const row = this.ctx.storage.sql
      .exec("SELECT * FROM keys WHERE tenant = ? AND id = ?", tenant, id)
      .toArray()[0];
    return row ? this.toRecord(row) : null;
  }

  private toRecord(row: Row): KeyRecord {
    const hints = this.ctx.storage.sql
      .exec<{ hint: string }>(
        "SELECT hint FROM secrets WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC",
        String(row.id),
        this.clock(),
      )
      .toArray()
      .map((secret) => secret.hint);
    return {
      id: String(row.id),
      tenant: String(row.tenant),
      name: String(row.name),
      limits: JSON.parse(String(row.limits)),
      disabled: row.disabled === 1,
      createdAt: Number(row.created_at),
      hints,
      lastUsedAt:
        row.last_used_at === null || row.last_used_at === undefined ? null : Number(row.last_used_at),
    };
  }
}
