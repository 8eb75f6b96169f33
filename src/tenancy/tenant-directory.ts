import type { IssuerConfig } from "../config/frontend";
import { misconfigured } from "../config/settings";
import {
  type IssuerIndex,
  indexIssuers,
  loadTenants,
  type ManagedTenant,
  type Tenant,
} from "../config/tenants";
import { RouterError } from "../errors";
import type { KeyRegistry } from "./key-registry";
import { keyCacheTtl, REGISTRY_NAME } from "./keys";

/**
 * Tenants come from two places: `ROUTER_TENANTS` (the bootstrap, and the way to pin a tenant in config)
 * and the admin API (stored in the key registry, tenant-table.ts). **Config wins**: a tenant that
 * `ROUTER_TENANTS` names is exactly what config says, and the admin API refuses to create or change one
 * of that id. An isolate trusts what it read of the admin API's tenants for the key cache's TTL
 * (`keyCacheTtl`), so a tenant created, changed or disabled there reaches every isolate within the same
 * bound a key change does.
 */
export interface ManagedDirectory {
  /** Enabled tenants of the admin API, by id (config-named ids left out: config wins). */
  tenants: ReadonlyMap<string, Tenant>;
  /** Every origin an enabled tenant of the admin API names in its limits. */
  origins: ReadonlySet<string>;
  /**
   * The enabled tenants' own token issuers (frontend.issuers). Asked only for a token that no configured
   * issuer matches, so an unknown `iss` costs no registry call beyond this copy's refresh once per TTL.
   */
  issuers: IssuerIndex;
}

let cached: { readAt: number; directory: Promise<ManagedDirectory> } | undefined;
/** Ids this isolate looked for and did not find, and when: each is asked for again once per TTL at most. */
const misses = new Map<string, number>();
const MISSES_MAX = 1_024;

/** A tenant of the admin API as the request path sees one: no configured key digests. */
export function asTenant(managed: ManagedTenant): Tenant {
  const { disabled: _disabled, ...settings } = managed;
  return { ...settings, keys: [] };
}

/** The admin API's enabled tenants, as this isolate last read them (at most the key cache's TTL ago). */
export function managedDirectory(env: Env, now: number): Promise<ManagedDirectory> {
  if (cached && cached.readAt + keyCacheTtl(env) > now) return cached.directory;
  return refresh(env, now);
}

function refresh(env: Env, now: number): Promise<ManagedDirectory> {
  const directory = readDirectory(env);
  cached = { readAt: now, directory };
  // A failed read is not remembered: the next request asks again.
  directory.catch(() => {
    if (cached?.directory === directory) cached = undefined;
  });
  return directory;
}

/**
 * The tenant an admin path names, disabled or not: configured (config wins), else created through the
 * admin API; an unknown id is a 404.
 */
export async function namedTenant(env: Env, id: string): Promise<Tenant> {
  const directory = loadTenants(env.ROUTER_TENANTS);
  if (!directory.ok) throw misconfigured();
  const tenant = directory.value.tenants.find((candidate) => candidate.id === id);
  if (tenant) return tenant;
  const stored = await keyRegistry(env).getTenant(id);
  if (!stored) throw new RouterError("not_found", "No such tenant.", { param: "tenant" });
  return asTenant(stored.tenant);
}

/** The tenant of an id: config's when config names it, else the admin API's if enabled. */
export async function findTenantById(env: Env, id: string, now: number): Promise<Tenant | undefined> {
  const config = loadTenants(env.ROUTER_TENANTS);
  const pinned = config.ok ? config.value.tenants.find((tenant) => tenant.id === id) : undefined;
  if (pinned) return pinned;
  const known = (await managedDirectory(env, now)).tenants.get(id);
  if (known) return known;
  // A tenant created since this isolate's last read is read at once (its keys can be used the moment
  // they are made); a missing or disabled one is asked for again once per TTL at most.
  const missedAt = misses.get(id);
  if (missedAt !== undefined && missedAt + keyCacheTtl(env) > now) return undefined;
  const fresh = (await refresh(env, now)).tenants.get(id);
  if (fresh) misses.delete(id);
  else {
    if (misses.size >= MISSES_MAX) misses.clear();
    misses.set(id, now);
  }
  return fresh;
}

/** Origins named by any tenant, configured or managed; undefined when none names any. */
export async function namedOrigins(env: Env, now: number): Promise<ReadonlySet<string> | undefined> {
  const config = loadTenants(env.ROUTER_TENANTS);
  const configured = config.ok ? config.value.origins : undefined;
  const managed = await managedDirectory(env, now).then(
    (directory) => directory.origins,
    // The registry unreachable: a preflight is judged on config alone rather than failing.
    () => new Set<string>(),
  );
  if (managed.size === 0) return configured;
  return new Set([...(configured ?? []), ...managed]);
}

export function keyRegistry(env: Env): DurableObjectStub<KeyRegistry> {
  return env.KEY_REGISTRY.getByName(REGISTRY_NAME);
}

async function readDirectory(env: Env): Promise<ManagedDirectory> {
  const config = loadTenants(env.ROUTER_TENANTS);
  const pinned = new Set(config.ok ? config.value.tenants.map((tenant) => tenant.id) : []);
  const tenants = new Map<string, Tenant>();
  const origins = new Set<string>();
  for (const record of await keyRegistry(env).listTenants()) {
    if (record.tenant.disabled || pinned.has(record.tenant.id)) continue;
    tenants.set(record.tenant.id, asTenant(record.tenant));
    for (const origin of record.tenant.limits?.origins ?? []) origins.add(origin);
  }
  const kept = new Map<string, IssuerConfig>();
  const issuers = indexIssuers(tenants.values(), (issuer) => {
    const settings = JSON.stringify(issuer);
    const same = keptIssuers.get(settings) ?? issuer;
    kept.set(settings, same);
    return same;
  });
  keptIssuers = kept;
  return { tenants, origins, issuers };
}

/**
 * Stored issuers as the last read found them, by their settings: an issuer unchanged since then stays the
 * same object, so its key set (a fetched JWKS) and the tokens it verified are kept across re-reads, while
 * a changed one (a key dropped from its JWKS) starts afresh. Holds only the issuers of the last read.
 */
let keptIssuers = new Map<string, IssuerConfig>();
