import type { KeyRegistry, TokenStanding } from "../tenancy/key-registry";
import { REGISTRY_NAME } from "../tenancy/keys";

const STANDING_MAX = 4_096;
const known = new Map<string, { standing: Promise<TokenStanding>; at: number }>();

/**
 * A token's parent key and its tenant's revocations, as this isolate last learned them: one registry
 * call per (tenant, parent key) per `ttlMs` (the key cache's TTL, 10 s by default), shared by every
 * token and end user of that key. This is the revocation bound: a disabled or rotated key, or a
 * revoked end user, fails everywhere within `ttlMs`, and always at `exp`.
 */
export function tokenStanding(args: {
  registry: DurableObjectNamespace<KeyRegistry>;
  tenantId: string;
  parentKeyId: string | undefined;
  now: number;
  ttlMs: number;
}): Promise<TokenStanding> {
  const cacheKey = `${args.tenantId}\u0000${args.parentKeyId ?? ""}`;
  const cached = known.get(cacheKey);
  if (cached && args.now - cached.at < args.ttlMs) return cached.standing;
  const standing = args.registry
    .getByName(REGISTRY_NAME)
    .standing(args.tenantId, args.parentKeyId ?? null) as Promise<TokenStanding>;
  if (known.size >= STANDING_MAX) known.clear();
  known.set(cacheKey, { standing, at: args.now });
  // A failed lookup is not remembered: the next request asks again.
  standing.catch(() => {
    if (known.get(cacheKey)?.standing === standing) known.delete(cacheKey);
  });
  return standing;
}
