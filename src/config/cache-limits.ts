/** How a tenant or route treats caching when the request does not say. */
export const CACHE_MODES = ["on", "deterministic", "off"] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

/** KV refuses an `expirationTtl` under 60 s. */
export const KV_MIN_TTL_SECONDS = 60;

/** KV caps a value at 25 MiB; the policy's limit is lower and sits under this. */
export const KV_MAX_VALUE_BYTES = 25 * 1024 * 1024;
