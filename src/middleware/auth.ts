import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { misconfigured } from "../config/settings";
import { loadTenants, type Tenant, type TenantDirectory } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { checkOrigin, effectiveLimits, scopesOf } from "../tenancy/enforce";
import type { KeyGrant } from "../tenancy/key-registry";
import { isManagedKey, keyCacheTtl, REGISTRY_NAME, resolveManagedKey } from "../tenancy/keys";
import { findTenantById } from "../tenancy/tenant-directory";
import { authenticateFrontendToken, guardServerKey } from "./frontend-auth";
import { internalCallOf } from "./internal-call";

/**
 * Resolves the router key to a tenant: `Authorization: Bearer <router key>`, or `x-api-key` as the
 * Anthropic SDKs send it (when both are sent, Authorization wins, as on DeepSeek's own endpoint). The
 * DeepSeek key is never involved.
 */
export const authenticate = createMiddleware<AppEnv>(async function authenticate(c, next) {
  const directory = loadTenants(c.env.ROUTER_TENANTS);
  if (!directory.ok) {
    console.error(JSON.stringify({ event: "config_invalid", errors: directory.errors }));
    throw misconfigured();
  }
  // Batch lines (issue 15) run as their tenant, and the key that asked for them, through this same app.
  const internal = internalCallOf(c.req.raw);
  if (internal) {
    const tenant = await findTenantById(c.env, internal.tenantId, Date.now());
    if (!tenant) throw new RouterError("unauthorized", "The batch's tenant no longer exists.");
    c.set("tenant", tenant);
    c.set("ledgerKey", internal.ledgerKey);
    if (internal.keyId) c.set("routerKey", await internalKey(c.env, tenant.id, internal.keyId));
    if (internal.endUser) c.set("endUser", internal.endUser);
    return next();
  }
  const key = presentedCredential(c);
  if (key === undefined) {
    const sent = c.req.header("authorization") !== undefined;
    throw new RouterError(
      "unauthorized",
      `${sent ? "The Authorization header is not 'Bearer <router key>'" : "Missing router key"}: send 'Authorization: Bearer <router key>' (or 'x-api-key: <router key>').`,
    );
  }
  // A frontend token (issue 23) is verified in the isolate; a router key is looked up below.
  if (await authenticateFrontendToken(c, directory.value, key)) return next();
  const found = (await resolveTenant(directory.value, key)) ?? (await managedTenant(c, key));
  if (!found) throw new RouterError("unauthorized", "Authentication failed: the router key is not valid.");
  c.set("tenant", found.tenant);
  if (found.key) c.set("routerKey", found.key);
  const limits = effectiveLimits(scopesOf(found.tenant, found.key));
  checkOrigin(c.req.header("origin"), limits);
  guardServerKey(c.req.raw, found.tenant, found.key, limits);
  await next();
});

/**
 * A key of the admin API's registry, whose tenant still exists and is enabled (configured, or created
 * through the admin API: tenancy/tenant-directory.ts). Only well-formed managed keys are looked up, so a
 * random bearer token costs no registry call.
 */
async function managedTenant(
  c: Context<AppEnv>,
  key: string,
): Promise<{ tenant: Tenant; key: NonNullable<AppEnv["Variables"]["routerKey"]> } | undefined> {
  if (!isManagedKey(key)) return undefined;
  const { env } = c;
  const now = Date.now();
  const caller = {
    address: c.req.header("cf-connecting-ip") ?? "unknown",
    unknownKeys: env.KEY_FAILURE_RATE_LIMIT,
  };
  const grant = await resolveManagedKey(env.KEY_REGISTRY, key, now, keyCacheTtl(env), caller);
  const tenant = grant ? await findTenantById(env, grant.tenant, now) : undefined;
  return tenant && grant
    ? {
        tenant,
        key: { id: grant.id, name: grant.name, limits: grant.limits, capabilities: grant.capabilities },
      }
    : undefined;
}

/** The key work was asked for with, as it is now: a key disabled or deleted since runs nothing more. */
async function internalKey(env: Env, tenant: string, id: string): Promise<KeyGrant> {
  const key = await env.KEY_REGISTRY.getByName(REGISTRY_NAME).get(tenant, id);
  if (!key || key.disabled) {
    throw new RouterError("unauthorized", "The key this work was created with is disabled or deleted.");
  }
  return { id: key.id, tenant: key.tenant, name: key.name, limits: key.limits };
}

/** Keys this isolate has already resolved, per tenant directory (a new configuration starts empty). */
const resolved = new WeakMap<TenantDirectory, Map<string, Tenant>>();
/** Bounded: only valid keys are remembered, so a flood of wrong ones cannot grow it, and few tenants have more. */
const RESOLVED_MAX = 1_024;

/**
 * The tenant of a key, hashed once per isolate and then remembered: hashing every request cost a
 * digest round trip per call. Unknown keys are never remembered, so they are always hashed and compared
 * in constant time ({@link findTenant}); a remembered key is found by its exact value only.
 */
async function resolveTenant(
  directory: TenantDirectory,
  key: string,
): Promise<{ tenant: Tenant; key?: undefined } | undefined> {
  let known = resolved.get(directory);
  if (!known) {
    known = new Map();
    resolved.set(directory, known);
  }
  const cached = known.get(key);
  if (cached) return { tenant: cached };
  const tenant = await findTenant(directory, key);
  if (tenant && known.size < RESOLVED_MAX) known.set(key, tenant);
  return tenant && { tenant };
}

/** The credential a request presents: `Authorization: Bearer …`, else `x-api-key`. */
export function presentedCredential(c: Context<AppEnv>): string | undefined {
  return bearerToken(c.req.header("authorization")) ?? apiKeyHeader(c.req.header("x-api-key"));
}

function apiKeyHeader(header: string | undefined): string | undefined {
  const key = header?.trim();
  return key ? key : undefined;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/**
 * Compares the key's SHA-256 digest against every configured digest in constant time and without an
 * early exit, so neither the match position nor a partial match shows in the timing.
 */
async function findTenant(directory: TenantDirectory, key: string): Promise<Tenant | undefined> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  let found: Tenant | undefined;
  for (const entry of directory.entries) {
    if (crypto.subtle.timingSafeEqual(entry.digest, digest)) found = entry.tenant;
  }
  return found;
}
