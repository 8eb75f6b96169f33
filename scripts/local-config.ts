import { createHash } from "node:crypto";

/** The router key `npm run dev`, the load-test kit and benchmarks use locally. Not a secret. */
export const LOCAL_ROUTER_KEY = "sk-local-dev";
/** The admin key (operator views: /metrics, /operator, /admin) `npm run dev` configures. Not a secret. */
export const LOCAL_ADMIN_KEY = "sk-local-admin";
/** What the router presents to the simulator; the simulator accepts any well-formed key. */
export const LOCAL_UPSTREAM_KEY = "sk-sim-local-0000000000000000000";

/**
 * The router's frontend-token signing key for `npm run dev` and the tests (an Ed25519 private JWK). Not a
 * secret: production sets its own with `wrangler secret put FRONTEND_SIGNING_KEY` (README).
 */
export const LOCAL_FRONTEND_SIGNING_KEY = JSON.stringify({
  kty: "OKP",
  crv: "Ed25519",
  kid: "local-dev-1",
  alg: "EdDSA",
  x: "g-Qt_ie32Q-Y7IZGj6gARU7bvstLDUvG5BYGb5pkY4A",
  d: "F5GBKtw_asNnsQib8gGpVUrrK6LvFBye_hRQ6UsJRLE",
});

interface LocalTenant {
  id: string;
  key: string;
  maxPriority?: "high" | "normal" | "low";
  /** Frontend-token settings (issue 23), e.g. `{ mint: true }`. */
  frontend?: Record<string, unknown>;
}

export const LOCAL_TENANTS: LocalTenant[] = [
  { id: "local", key: LOCAL_ROUTER_KEY, frontend: { mint: true } },
  { id: "local-batch", key: "sk-local-batch", maxPriority: "normal" },
];

/** ROUTER_TENANTS as the router expects it: digests only, never the keys. */
export function tenantsConfig(tenants: LocalTenant[] = LOCAL_TENANTS): string {
  return JSON.stringify(
    tenants.map(({ id, key, maxPriority, frontend }) => ({
      id,
      keys: [createHash("sha256").update(key).digest("hex")],
      ...(maxPriority ? { maxPriority } : {}),
      ...(frontend ? { frontend } : {}),
    })),
  );
}

/** ROUTER_ADMIN_KEY as the router expects it: the digest of the admin key, never the key. */
export function adminKeyDigest(key: string = LOCAL_ADMIN_KEY): string {
  return createHash("sha256").update(key).digest("hex");
}
