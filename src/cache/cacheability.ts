import { type CacheMode, KV_MIN_TTL_SECONDS } from "../config/cache-limits";
import { parseEnumHeader } from "../headers";

/** `x-router-cache`: the caller opts in or out, whatever the tenant's default. */
const SWITCH = ["on", "off"] as const;

export interface CacheSettings {
  enabled: boolean;
  ttlSeconds: number;
  maxTtlSeconds: number;
}

export interface CacheabilityInput {
  /** The request's `temperature`, if it set one. */
  temperature: number | null | undefined;
  /** Raw `Cache-Control` and `x-router-cache` request headers. */
  cacheControl: string | undefined;
  routerCache: string | undefined;
  settings: CacheSettings;
  /** The tenant's mode, when it sets one. */
  tenantMode: CacheMode | undefined;
  /** The policy's mode for the request's type (its route), when it sets one. */
  routeMode: CacheMode | undefined;
}

export type CacheUse =
  /** Serve a fresh entry if there is one, else answer and store. */
  | "use"
  /** `Cache-Control: no-cache`: do not serve an entry, but store the new answer in its place. */
  | "refresh"
  /** Neither read nor write. */
  | "bypass";

export interface CacheDecision {
  cacheable: boolean;
  mode: CacheUse;
  /** How long a stored answer lives: the policy's TTL or the request's max-age, within [60 s, max]. */
  ttlSeconds: number;
  /** `Cache-Control: max-age=N` also bounds the age of an entry this request accepts. */
  maxAgeSeconds?: number;
  reason: string;
}

/**
 * Whether and how a request uses the cache. Pure. An operator's "off" (policy, tenant or route) always
 * wins; then `Cache-Control: no-store` and `x-router-cache: on|off`; then the tenant's mode, the
 * route's, and by default only deterministic requests (temperature 0) are cached.
 */
export function decideCaching(input: CacheabilityInput): CacheDecision {
  const control = parseCacheControl(input.cacheControl);
  const optIn = parseEnumHeader(input.routerCache, SWITCH, "x-router-cache");
  const { settings } = input;
  const ttlSeconds = clampTtl(control.maxAge ?? settings.ttlSeconds, settings.maxTtlSeconds);
  const bypass = (reason: string): CacheDecision => ({
    cacheable: false,
    mode: "bypass",
    ttlSeconds,
    reason,
  });

  if (!settings.enabled) return bypass("caching is disabled by the policy");
  if (input.tenantMode === "off") return bypass("caching is off for this tenant");
  if (input.routeMode === "off") return bypass("caching is off for this route");
  if (control.noStore) return bypass("Cache-Control: no-store");
  if (optIn === "off") return bypass("x-router-cache: off");

  const mode = optIn ?? input.tenantMode ?? input.routeMode ?? "deterministic";
  if (mode === "deterministic" && input.temperature !== 0) {
    return bypass("not deterministic (temperature is not 0) and not opted in");
  }
  const why = optIn === "on" ? "x-router-cache: on" : mode === "on" ? "opted in by policy" : "temperature 0";
  return {
    cacheable: true,
    mode: control.noCache ? "refresh" : "use",
    ttlSeconds,
    ...(control.maxAge !== undefined ? { maxAgeSeconds: control.maxAge } : {}),
    reason: control.noCache ? `${why}; Cache-Control: no-cache` : why,
  };
}

export function clampTtl(seconds: number, maxSeconds: number): number {
  return Math.max(
    KV_MIN_TTL_SECONDS,
    Math.min(Math.floor(seconds), Math.max(KV_MIN_TTL_SECONDS, maxSeconds)),
  );
}

interface CacheControl {
  noStore: boolean;
  noCache: boolean;
  maxAge?: number;
}

/** The request directives the cache honours; others (`private`, `no-transform`, ...) are ignored. */
export function parseCacheControl(header: string | undefined): CacheControl {
  const control: CacheControl = { noStore: false, noCache: false };
  for (const part of (header ?? "").split(",")) {
    const [name = "", value] = part.trim().toLowerCase().split("=", 2);
    if (name === "no-store") control.noStore = true;
    else if (name === "no-cache") control.noCache = true;
    else if (name === "max-age" && value !== undefined && /^\d+$/.test(value.replace(/"/g, ""))) {
      control.maxAge = Number(value.replace(/"/g, ""));
    }
  }
  return control;
}
