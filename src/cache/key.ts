/**
 * The prompt cache's key: a SHA-256 of the canonical JSON of everything that can change the answer.
 * Two requests share an entry only when their key material is identical, so anything in doubt goes in:
 * an extra field costs a little hit rate, a missing one would serve a wrong answer.
 */

import type { WireEndpoint } from "../surfaces";

/** Bump when the key material or the entry format changes: old entries then simply stop matching. */
export const CACHE_FORMAT_VERSION = 1 as const;

/**
 * Body fields that never change the answer. `stream` and `stream_options` only change its framing
 * (a hit is re-framed for the caller); `user` and `user_id` identify the end user to the upstream.
 */
const FRAMING_AND_IDENTITY = new Set(["stream", "stream_options", "user", "user_id"]);

/** Whose entries a request may read and write: its own tenant's, or a scope tenants opted to share. */
export type CacheScope = `tenant:${string}` | "shared";

export interface KeyMaterial {
  scope: CacheScope;
  /** The wire format: the same prompt asked through two front doors gets two entries. */
  endpoint: WireEndpoint;
  /** Under DeepSeek's /beta base, where prefix completion and strict tools exist. */
  beta: boolean;
  /** The caller's body as validated: every field, known or not, except those above. */
  body: Readonly<Record<string, unknown>>;
  /** The router model the first plan step serves (after aliases and `auto`). */
  resolvedModel: string;
  /** The provider's id for it, so a changed pool mapping does not serve the old model's answers. */
  upstreamModel: string;
  /** The plan switches thinking off (auto chat, degraded reasoning): the answer has no reasoning. */
  disableThinking: boolean;
  /**
   * A frontend token's verified end user: one end user's entries are never another's, or a page could
   * learn (from a hit) what another user of the same app asked, and read that user's answer.
   */
  endUser?: string;
}

/** A stored entry's identity: its scope (for purging by tenant) and the hash of its key material. */
export interface CacheId {
  scope: CacheScope;
  hash: string;
}

export async function cacheId(material: KeyMaterial): Promise<CacheId> {
  const body: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(material.body)) {
    if (!FRAMING_AND_IDENTITY.has(field)) body[field] = value;
  }
  const canonical = canonicalJson({
    v: CACHE_FORMAT_VERSION,
    scope: material.scope,
    endpoint: material.endpoint,
    beta: material.beta,
    resolvedModel: material.resolvedModel,
    upstreamModel: material.upstreamModel,
    disableThinking: material.disableThinking,
    // Left out when there is none (canonical JSON drops undefined): server keys' keys are unchanged.
    endUser: material.endUser,
    body,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return { scope: material.scope, hash: toHex(new Uint8Array(digest)) };
}

export function scopeFor(tenantId: string, sharing: "tenant" | "shared" = "tenant"): CacheScope {
  return sharing === "shared" ? "shared" : `tenant:${tenantId}`;
}

/** `tenant:acme:<hash>`: how an entry is named in headers and in the admin API. */
export function formatCacheId(id: CacheId): string {
  return `${id.scope}:${id.hash}`;
}

export function parseCacheId(text: string): CacheId | undefined {
  const match = /^(shared|tenant:[A-Za-z0-9_.-]{1,64}):([0-9a-f]{64})$/.exec(text);
  if (!match) return undefined;
  return { scope: match[1] as CacheScope, hash: match[2] as string };
}

/**
 * JSON with object keys sorted and no insignificant whitespace. Object fields whose value is null or
 * undefined are dropped, because DeepSeek treats an explicit null as the field left out; array
 * elements keep their positions.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number")
    return Number.isFinite(value) ? JSON.stringify(value === 0 ? 0 : value) : "null";
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record)
      .filter((key) => record[key] !== null && record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${fields.join(",")}}`;
  }
  return "null";
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
