import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { flushCacheCounts, readCacheCounts } from "../cache/counting";
import { type CacheScope, parseCacheId } from "../cache/key";
import { addCounters, zeroCounters } from "../cache/stats";
import { CacheStore } from "../cache/store";
import { misconfigured } from "../config/settings";
import { loadTenants } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { keyRegistry } from "../tenancy/tenant-directory";
import { adminOps, tenantId } from "./admin-ops";
import { endUsersAdmin } from "./frontend";
import { keys } from "./keys";
import { adminOpenapi } from "./openapi";
import { tenants } from "./tenants";

/** The admin key is an optional secret holding the SHA-256 hex digest of the key, never the key. */
interface AdminEnv {
  ROUTER_ADMIN_KEY?: string;
}

/**
 * `/admin/*`: operator endpoints, guarded by `ROUTER_ADMIN_KEY` instead of a tenant's router key.
 * Without that secret the admin API does not exist (404), so a deployment that never set it exposes
 * nothing; a wrong or missing key is a 401.
 */
export const admin = new Hono<AppEnv>();

export const requireAdmin = createMiddleware<AppEnv>(async function requireAdmin(c, next) {
  const configured = (c.env as Env & AdminEnv).ROUTER_ADMIN_KEY;
  if (!configured) throw new RouterError("not_found", `No route for ${c.req.method} ${c.req.path}.`);
  const digest = hexDigest(configured);
  if (!digest) {
    console.error(
      JSON.stringify({ event: "config_invalid", errors: ["ROUTER_ADMIN_KEY: not a SHA-256 hex digest"] }),
    );
    throw misconfigured();
  }
  const key = c.req.header("authorization")?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (key === undefined)
    throw new RouterError("unauthorized", "Missing admin key: send 'Authorization: Bearer <admin key>'.");
  const presented = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  // Both sides are 32-byte digests, so the comparison's time says nothing about the key.
  if (!crypto.subtle.timingSafeEqual(presented, digest)) {
    throw new RouterError("unauthorized", "Authentication failed: the admin key is not valid.");
  }
  c.header("cache-control", "no-store");
  await next();
});

admin.use(requireAdmin);

/** Counters per tenant and in total; `?tenant=` for one. This isolate's buffered counts are written first. */
admin.get("/cache/stats", async (c) => {
  const directory = loadTenants(c.env.ROUTER_TENANTS);
  if (!directory.ok) throw misconfigured();
  const asked = c.req.query("tenant");
  const stored = await keyRegistry(c.env).listTenants();
  const known = [
    ...new Set([...directory.value.tenants.map((tenant) => tenant.id), ...stored.map((r) => r.tenant.id)]),
  ];
  if (asked !== undefined && !known.includes(asked)) {
    throw new RouterError("not_found", `No tenant '${asked}'.`, { param: "tenant" });
  }
  await flushCacheCounts(c.env);
  const tenants = await readCacheCounts(c.env, asked === undefined ? known : [asked]);
  const total = zeroCounters();
  for (const counters of Object.values(tenants)) addCounters(total, counters);
  return c.json({ total, tenants });
});

/** Deletes one entry, named as in the `x-router-cache-key` header (`tenant:<id>:<hash>` or `shared:<hash>`). */
admin.delete("/cache/entries/:key", async (c) => {
  const id = parseCacheId(c.req.param("key"));
  if (!id) {
    throw new RouterError(
      "invalid_request",
      "The key must be 'tenant:<id>:<sha256 hex>' or 'shared:<sha256 hex>'.",
      {
        param: "key",
      },
    );
  }
  const deleted = await new CacheStore(c.env.CACHE, caches.default).delete(id);
  return c.json({ key: c.req.param("key"), deleted });
});

/** Deletes a tenant's own entries, a batch per call; repeat while `more` is true. */
admin.delete("/cache/tenants/:tenant", async (c) => {
  return c.json(await purge(c.env, `tenant:${tenantId(c.req.param("tenant"))}`));
});

/** Deletes the entries of the shared scope, a batch per call; repeat while `more` is true. */
admin.delete("/cache/shared", async (c) => c.json(await purge(c.env, "shared")));

admin.route("/", tenants);
admin.route("/", adminOpenapi);
admin.route("/", adminOps);
admin.route("/", keys);
admin.route("/", endUsersAdmin);

/** Past the guard, an unknown admin path is a 404 rather than falling through to the tenant API's key check. */
admin.all("*", (c) => {
  throw new RouterError("not_found", `No route for ${c.req.method} ${c.req.path}.`);
});

async function purge(
  env: Env,
  scope: CacheScope,
): Promise<{ scope: CacheScope; deleted: number; more: boolean }> {
  return { scope, ...(await new CacheStore(env.CACHE, caches.default).purgeScope(scope)) };
}

function hexDigest(value: string): Uint8Array | undefined {
  const hex = value
    .trim()
    .replace(/^sha256:/, "")
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
