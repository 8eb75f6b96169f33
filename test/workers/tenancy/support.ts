import { env } from "cloudflare:workers";
import type { Limits } from "../../../src/config/limits";
import { sha256Hex } from "../cache/support";

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
