import { DurableObject } from "cloudflare:workers";
import type { Limits } from "../config/limits";
import type { ManagedTenant } from "../config/tenants";
import { type IssuerClash, issuerClash } from "./issuer-clash";
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
  /** What the key may do beyond calling the API (issue 23): "mint" frontend tokens, "browser" use. */
  capabilities: KeyCapability[];
}

export const KEY_CAPABILITIES = ["mint", "browser"] as const;
export type KeyCapability = (typeof KEY_CAPABILITIES)[number];

/**
 * What a frontend token's verifier must know beyond the signature: whether its parent key still
 * stands, and which of the tenant's tokens were revoked (issue 23). Revocations are dropped once every
 * token they could concern has expired, so the list stays as short as the last hour's revocations.
 */
export interface TokenStanding {
  /** The parent key, when one was asked for and is enabled; null when disabled or deleted. */
  key: KeyGrant | null;
  /** Tokens the parent key minted before this time (ms) are revoked: its last rotation or revocation. */
  keyRevokedAt: number;
  /** Revoked end users (by their pseudonymous id) and when: their tokens issued before then fail. */
  users: Record<string, number>;
}

/** How long a revocation is remembered: past the longest token lifetime plus clock skew. */
export const REVOCATION_MEMORY_MS = 3_660_000;

/** What a request authenticated with a managed key learns about it. */
export interface KeyGrant {
  id: string;
  tenant: string;
  name: string;
  limits: Limits;
  capabilities?: KeyCapability[];
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
    sql.exec(
      "CREATE TABLE IF NOT EXISTS key_capabilities (key_id TEXT PRIMARY KEY, capabilities TEXT NOT NULL)",
    );
    sql.exec(`CREATE TABLE IF NOT EXISTS token_revocations (tenant TEXT NOT NULL, subject TEXT NOT NULL,
      at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (tenant, subject))`);
  }

  create(
    tenant: string,
    name: string,
    limits: Limits,
    secret: NewSecret,
    capabilities: KeyCapability[] = [],
  ): KeyRecord {
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
      this.setCapabilities(id, capabilities);
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
    change: { name?: string; limits?: Limits; disabled?: boolean; capabilities?: KeyCapability[] },
  ): KeyRecord | null {
    const current = this.record(tenant, id);
    if (!current) return null;
    if (change.capabilities) this.setCapabilities(id, change.capabilities);
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
      // A rotation also revokes the frontend tokens the key minted so far.
      this.revoke(tenant, `key:${id}`, now);
    });
    return this.record(tenant, id);
  }

  /** Revokes the frontend tokens of one end user (by pseudonymous id) of the tenant, issued before now. */
  revokeUser(tenant: string, userId: string): void {
    this.revoke(tenant, `user:${userId}`, this.clock());
  }

  /** Revokes every frontend token a key minted before now, leaving the key itself working. */
  revokeKeyTokens(tenant: string, id: string): boolean {
    if (!this.record(tenant, id)) return false;
    this.revoke(tenant, `key:${id}`, this.clock());
    return true;
  }

  /** What a frontend token verifier caches for up to the key cache's TTL (see {@link TokenStanding}). */
  standing(tenant: string, keyId: string | null): TokenStanding {
    const now = this.clock();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM token_revocations WHERE expires_at <= ?", now);
    const users: Record<string, number> = {};
    let keyRevokedAt = 0;
    for (const row of sql
      .exec<{ subject: string; at: number }>(
        "SELECT subject, at FROM token_revocations WHERE tenant = ?",
        tenant,
      )
      .toArray()) {
      if (row.subject.startsWith("user:")) users[row.subject.slice(5)] = row.at;
      else if (keyId !== null && row.subject === `key:${keyId}`) keyRevokedAt = row.at;
    }
    const record = keyId === null ? null : this.record(tenant, keyId);
    const key =
      record && !record.disabled
        ? {
            id: record.id,
            tenant,
            name: record.name,
            limits: record.limits,
            capabilities: record.capabilities,
          }
        : null;
    return { key, keyRevokedAt, users };
  }

  private revoke(tenant: string, subject: string, now: number): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO token_revocations VALUES (?, ?, ?, ?)",
      tenant,
      subject,
      now,
      now + REVOCATION_MEMORY_MS,
    );
  }

  private setCapabilities(id: string, capabilities: KeyCapability[]): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO key_capabilities VALUES (?, ?)",
      id,
      JSON.stringify([...new Set(capabilities)].sort()),
    );
  }

  private capabilitiesOf(id: string): KeyCapability[] {
    const row = this.ctx.storage.sql
      .exec<{ capabilities: string }>("SELECT capabilities FROM key_capabilities WHERE key_id = ?", id)
      .toArray()[0];
    return row ? JSON.parse(row.capabilities) : [];
  }

  remove(tenant: string, id: string): boolean {
    if (!this.record(tenant, id)) return false;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("DELETE FROM secrets WHERE key_id = ?", id);
      this.ctx.storage.sql.exec("DELETE FROM keys WHERE id = ?", id);
      this.ctx.storage.sql.exec("DELETE FROM key_capabilities WHERE key_id = ?", id);
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
      capabilities: this.capabilitiesOf(String(row.id)),
    };
  }

  /** Tenants of the admin API (tenant-table.ts); the route has validated and merged the settings. */
  listTenants(): TenantRecord[] {
    return listTenantRows(this.ctx.storage.sql);
  }

  getTenant(id: string): TenantRecord | null {
    return tenantRow(this.ctx.storage.sql, id);
  }

  /**
   * Null when the id is taken; the clash when another stored tenant has one of its issuers' (issuer,
   * audience) pairs (checked and written in one synchronous step, so two writes cannot both take a pair).
   */
  createTenant(tenant: ManagedTenant): TenantRecord | { clash: IssuerClash } | null {
    const clash = this.issuerClash(tenant);
    if (clash) return { clash };
    if (!insertTenantRow(this.ctx.storage.sql, tenant, this.clock())) return null;
    return tenantRow(this.ctx.storage.sql, tenant.id);
  }

  /** Null when there is no such tenant; the clash as for {@link createTenant}. */
  updateTenant(tenant: ManagedTenant): TenantRecord | { clash: IssuerClash } | null {
    const clash = this.issuerClash(tenant);
    if (clash) return { clash };
    if (!updateTenantRow(this.ctx.storage.sql, tenant, this.clock())) return null;
    return tenantRow(this.ctx.storage.sql, tenant.id);
  }

  private issuerClash(tenant: ManagedTenant): IssuerClash | undefined {
    if (!tenant.frontend?.issuers?.length) return undefined;
    const stored = listTenantRows(this.ctx.storage.sql).map((record) => record.tenant);
    return issuerClash(tenant, stored);
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
      capabilities: this.capabilitiesOf(String(row.id)),
    };
  }
}
