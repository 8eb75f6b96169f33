import type { ManagedTenant } from "../config/tenants";

/** A tenant of the admin API as the registry stores it: its settings, and when it was made and changed. */
export interface TenantRecord {
  tenant: ManagedTenant;
  createdAt: number;
  updatedAt: number;
}

type Row = Record<string, SqlStorageValue>;

/**
 * The registry's `tenants` table: one row per tenant created through the admin API, its settings as
 * JSON (validated by the admin route before they are written, so a row always parses). Rows are never
 * deleted: a tenant is disabled, so its ledger, budgets and keys keep their owner.
 */
export function createTenantTable(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, settings TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`);
}

export function listTenantRows(sql: SqlStorage): TenantRecord[] {
  return sql.exec("SELECT * FROM tenants ORDER BY id").toArray().map(toRecord);
}

export function tenantRow(sql: SqlStorage, id: string): TenantRecord | null {
  const row = sql.exec("SELECT * FROM tenants WHERE id = ?", id).toArray()[0];
  return row ? toRecord(row) : null;
}

/** Inserts a new tenant; false when the id is taken. */
export function insertTenantRow(sql: SqlStorage, tenant: ManagedTenant, now: number): boolean {
  const cursor = sql.exec(
    "INSERT OR IGNORE INTO tenants VALUES (?, ?, ?, ?)",
    tenant.id,
    JSON.stringify(tenant),
    now,
    now,
  );
  return cursor.rowsWritten > 0;
}

/** Replaces an existing tenant's settings; false when there is no such tenant. */
export function updateTenantRow(sql: SqlStorage, tenant: ManagedTenant, now: number): boolean {
  const cursor = sql.exec(
    "UPDATE tenants SET settings = ?, updated_at = ? WHERE id = ?",
    JSON.stringify(tenant),
    now,
    tenant.id,
  );
  return cursor.rowsWritten > 0;
}

function toRecord(row: Row): TenantRecord {
  return {
    tenant: JSON.parse(String(row.settings)),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
