import { env } from "cloudflare:workers";
import type { Limits } from "../../../src/config/limits";
import { sha256Hex } from "../cache/support";
import { type CallInit, callWithUpstream } from "../helpers";

/** A tenant of its own (fresh authority, fresh holder) with `limits`, and the ROUTER_TENANTS that configures it. */
export async function limitedTenant(
  limits: Limits,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; key: string; tenants: string }> {
  const id = `t-${crypto.randomUUID().slice(0, 8)}`;
  const key = `sk-router-${id}-000000000000`;
  const base = JSON.parse(env.ROUTER_TENANTS) as unknown[];
  const tenants = JSON.stringify([...base, { id, keys: [await sha256Hex(key)], limits, ...extra }]);
  return { id, key, tenants };
}

/** Waits out the last seconds of a UTC minute, so a test of a per-minute limit sees one window. */
export async function awayFromMinuteEdge(needMs = 10_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** The admin key the tenancy suites configure (its digest as ROUTER_ADMIN_KEY). */
export const REGISTRY_ADMIN_KEY = "sk-admin-registry-00000000000000";

/**
 * Calls the router with the admin key configured; key and tenant changes reach this isolate at once
 * (`cacheMs` 0) unless a test of the cache bound asks otherwise.
 */
export async function registryCall(path: string, init: CallInit = {}, cacheMs = "0"): Promise<Response> {
  return callWithUpstream(env.DEEPSEEK_BASE_URL, path, init, {
    ROUTER_ADMIN_KEY: await sha256Hex(REGISTRY_ADMIN_KEY),
    ROUTER_KEY_CACHE_MS: cacheMs,
  });
}

/** The admin API, as the operator calls it. */
export function adminCall(path: string, init: CallInit = {}): Promise<Response> {
  return registryCall(`/admin${path}`, { key: REGISTRY_ADMIN_KEY, ...init });
}
