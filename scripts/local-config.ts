import { createHash } from "node:crypto";

/** The router key `npm run dev`, the load-test kit and benchmarks use locally. Not a secret. */
export const LOCAL_ROUTER_KEY = "sk-local-dev";
/** The admin key (operator views: /metrics, /operator, /admin) `npm run dev` configures. Not a secret. */
export const LOCAL_ADMIN_KEY = "sk-local-admin";
/** What the router presents to the simulator; the simulator accepts any well-formed key. */
export const LOCAL_UPSTREAM_KEY = "sk-sim-local-0000000000000000000";

interface LocalTenant {
  id: string;
  key: string;
  maxPriority?: "high" | "normal" | "low";
}

export const LOCAL_TENANTS: LocalTenant[] = [
  { id: "local", key: LOCAL_ROUTER_KEY },
  { id: "local-batch", key: "sk-local-batch", maxPriority: "normal" },
];

/** ROUTER_TENANTS as the router expects it: digests only, never the keys. */
export function tenantsConfig(tenants: LocalTenant[] = LOCAL_TENANTS): string {
  return JSON.stringify(
    tenants.map(({ id, key, maxPriority }) => ({
      id,
      keys: [createHash("sha256").update(key).digest("hex")],
      ...(maxPriority ? { maxPriority } : {}),
    })),
  );
}

/** ROUTER_ADMIN_KEY as the router expects it: the digest of the admin key, never the key. */
export function adminKeyDigest(key: string = LOCAL_ADMIN_KEY): string {
  return createHash("sha256").update(key).digest("hex");
}
