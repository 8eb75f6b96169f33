import { sha256Hex } from "../bytes";
import { RouterError } from "../errors";
import type { KeyGrant, KeyRegistry, NewSecret } from "./key-registry";

/** Managed keys look like `sk-rt-` and 43 base64url characters (32 random bytes). */
const MANAGED_KEY = /^sk-rt-[A-Za-z0-9_-]{43}$/;
export const REGISTRY_NAME = "registry";

/**
 * How long an isolate trusts what it learned about a managed key, unless `ROUTER_KEY_CACHE_MS` says
 * otherwise. A key disabled, rotated out or deleted through the admin API stops working everywhere
 * within this bound (requests already past authentication finish).
 */
export const KEY_CACHE_TTL_MS = 10_000;

/** The key cache's TTL from `ROUTER_KEY_CACHE_MS` (0 to 60000), else {@link KEY_CACHE_TTL_MS}. */
export function keyCacheTtl(env: object): number {
  const raw = Reflect.get(env, "ROUTER_KEY_CACHE_MS");
  const value = Number(raw);
  return typeof raw === "string" && raw !== "" && Number.isInteger(value) && value >= 0 && value <= 60_000
    ? value
    : KEY_CACHE_TTL_MS;
}
const KEY_CACHE_MAX = 4_096;

/** A fresh secret: shown once to the admin, and stored only as its digest. */
export async function mintSecret(): Promise<{ secret: string; stored: NewSecret }> {
  const secret = `sk-rt-${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
  return { secret, stored: { digest: await sha256Hex(secret), hint: secret.slice(-4) } };
}

export function isManagedKey(key: string): boolean {
  return MANAGED_KEY.test(key);
}

/**
 * Secrets this isolate resolved, and those it found unknown, each until its TTL. Apart, so a flood of
 * made-up keys (each one registry call per TTL) fills only its own map and never pushes out the keys in use.
 */
const known = new Map<string, { grant: KeyGrant; until: number }>();
const unknown = new Map<string, number>();

/**
 * The managed key a secret belongs to: from this isolate's memory for up to {@link KEY_CACHE_TTL_MS},
 * otherwise from the registry (found by the secret's SHA-256 digest: the lookup's timing depends on
 * the digest, which says nothing about the secret). Unknown secrets are remembered as unknown for the
 * same time, so a flood of one wrong key costs one registry call per TTL.
 */
export async function resolveManagedKey(
  registry: DurableObjectNamespace<KeyRegistry>,
  key: string,
  now: number,
  ttlMs: number,
  caller?: Caller,
): Promise<KeyGrant | null> {
  const cached = known.get(key);
  if (cached && cached.until > now) return cached.grant;
  if ((unknown.get(key) ?? 0) > now) return null;
  // A key this isolate knew (its memory merely expired) is refreshed, whoever floods: only guesses wait.
  if (caller && !cached) refuseIfFlooding(caller.address, now);
  const grant = await registry.getByName(REGISTRY_NAME).lookup(await sha256Hex(key));
  const memory = grant ? known : unknown;
  if (memory.size >= KEY_CACHE_MAX) memory.clear();
  if (grant) known.set(key, { grant, until: now + ttlMs });
  else unknown.set(key, now + ttlMs);
  if (!grant && caller) await countUnknownKey(caller, now);
  return grant;
}

/** Who presented a key, for the count of made-up keys per address. */
export interface Caller {
  /** `cf-connecting-ip`. */
  address: string;
  /** Allows each address a number of unknown keys per period, counted per Cloudflare location. */
  unknownKeys: RateLimit;
}

/** The rate limit's period (wrangler.toml, `KEY_FAILURE_RATE_LIMIT`): how long an address stays refused. */
const FLOOD_PERIOD_MS = 60_000;

/**
 * Addresses that presented more unknown managed keys than their allowance, until when. Each unknown
 * key costs a call to the one registry object (a new one every time, so the memory of unknown keys
 * does not help), so a flood of made-up keys could slow every isolate's key lookups. Once an address
 * is past its allowance, a key this isolate has never resolved is refused without the call until the
 * period ends; keys it has resolved keep working (and are refreshed), for that address too.
 */
const flooding = new Map<string, number>();

function refuseIfFlooding(address: string, now: number): void {
  const until = flooding.get(address) ?? 0;
  if (until <= now) return;
  const seconds = Math.ceil((until - now) / 1000);
  throw new RouterError(
    "rate_limited",
    `Too many unknown router keys from this address; retry in ${seconds} s with a valid key.`,
    { headers: { "retry-after": String(seconds) } },
  );
}

async function countUnknownKey(caller: Caller, now: number): Promise<void> {
  const { success } = await caller.unknownKeys.limit({ key: caller.address });
  if (success) return;
  if (flooding.size >= KEY_CACHE_MAX) flooding.clear();
  flooding.set(caller.address, now + FLOOD_PERIOD_MS);
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
