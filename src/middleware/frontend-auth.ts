import type { Context } from "hono";
import type { PerUserLimits } from "../config/frontend";
import type { Limits } from "../config/limits";
import type { IssuerIndex, Tenant, TenantDirectory } from "../config/tenants";
import type { AppEnv, EndUser } from "../env";
import { RouterError } from "../errors";
import { endUserId } from "../frontend/identity";
import { tokenStanding } from "../frontend/standing";
import {
  type IssuerSource,
  looksLikeJws,
  refused,
  skewOf,
  type TokenScope,
  type VerifiedToken,
  verifyToken,
} from "../frontend/token";
import { checkOrigin, effectiveLimits, scopesOf } from "../tenancy/enforce";
import { keyCacheTtl } from "../tenancy/keys";
import { findTenantById, managedDirectory } from "../tenancy/tenant-directory";

/**
 * Where a frontend token may be used: inference and what a page needs around it. Files, batches, kept
 * streams, the balance and minting act for the whole tenant, so they take a server key only.
 */
const TOKEN_PATHS = new Set([
  "/chat/completions",
  "/v1/chat/completions",
  "/beta/chat/completions",
  "/beta/completions",
  "/anthropic/v1/messages",
  "/anthropic/messages",
  "/anthropic/v1/messages/count_tokens",
  "/anthropic/v1/models",
  "/v1/responses",
  "/responses",
  "/models",
  "/v1/models",
  "/v1/usage",
]);
/**
 * By id: a listed model (`/models/:id`, `/v1/models/:id`, `/anthropic/v1/models/:id`), and a Response
 * the end user kept with `store: true` (retrieve, delete, cancel, input items; the owner shows a token
 * only its own end user's).
 */
const TOKEN_ID_PATHS = [
  /^\/(?:v1\/|anthropic\/v1\/)?models\/[^/]+$/,
  /^\/(?:v1\/)?responses\/[^/]+(?:\/cancel|\/input_items)?$/,
];

/**
 * Authenticates a frontend token, if the credential is one: a router-minted token or one of a tenant's
 * own issuers, verified in the isolate, then checked against the cached standing of its parent key and
 * its tenant's revocations. Sets the tenant, the parent key and the end user. False for a router key.
 */
export async function authenticateFrontendToken(
  c: Context<AppEnv>,
  directory: TenantDirectory,
  credential: string,
): Promise<boolean> {
  if (!looksLikeJws(credential)) return false;
  if (!TOKEN_PATHS.has(c.req.path) && !TOKEN_ID_PATHS.some((path) => path.test(c.req.path))) {
    throw new RouterError(
      "frontend_token_not_allowed",
      `${c.req.path} acts for the whole tenant and takes a server key; frontend tokens are for inference (chat, FIM, Messages, Responses and the end user's own stored Responses), /v1/models and /v1/usage.`,
    );
  }
  const known = await verifiedOnce(c.env, credential, directory);
  const { verified } = known;
  // Configured or created through the admin API (a stored tenant's keys are managed keys).
  const tenant = await findTenantById(c.env, verified.tenantId, Date.now());
  if (!tenant) throw refused("its tenant is not configured");
  const configKey = verified.parentKeyId?.startsWith("cfg:") ? verified.parentKeyId.slice(4) : undefined;
  if (configKey !== undefined && !tenant.keys.some((digest) => digest.startsWith(configKey))) {
    throw refused("the key that minted it is no longer configured");
  }
  const anonymous = verified.parentKeyId === "anon";
  if (anonymous && !tenant.frontend?.anonymous)
    throw refused("the tenant no longer allows anonymous sessions");
  const managedKeyId = configKey === undefined && !anonymous ? verified.parentKeyId : undefined;
  const standing = await tokenStanding({
    registry: c.env.KEY_REGISTRY,
    tenantId: tenant.id,
    parentKeyId: managedKeyId,
    now: Date.now(),
    ttlMs: keyCacheTtl(c.env),
  });
  if (managedKeyId !== undefined && !standing.key)
    throw refused("the key that minted it is disabled or deleted");
  if (managedKeyId !== undefined && standing.keyRevokedAt > verified.issuedAtMs) {
    throw refused("the tokens of the key that minted it were revoked");
  }
  known.userId ??= await endUserId(c.env, tenant.id, verified.sub);
  const id = known.userId;
  if ((standing.users[id] ?? 0) > verified.issuedAtMs) throw refused("this end user's tokens were revoked");
  const key = standing.key
    ? { id: standing.key.id, name: standing.key.name, limits: standing.key.limits }
    : undefined;
  const endUser: EndUser = {
    id,
    via: verified.via,
    limits: userLimits(tenant.frontend?.perUser, verified.scope),
  };
  c.set("tenant", tenant);
  if (key) c.set("routerKey", key);
  c.set("endUser", endUser);
  checkOrigin(c.req.header("origin"), effectiveLimits(scopesOf(tenant, key, endUser)));
  return true;
}

/**
 * Tokens this isolate has verified, by their exact text, until they expire: a page reuses its token for
 * every call of its lifetime, so only its first request here pays for the signature (about 0.2 ms of
 * CPU; README). `exp` is still checked on every use; revocation is checked on every use by the caller.
 * Bounded; per tenant directory and signing key set, so a configuration change (an issuer or a signing
 * key removed) starts afresh. A token of a stored tenant's issuer is kept only while this isolate's copy
 * of the stored tenants still holds that very issuer for that tenant (tenant-directory.ts keeps an
 * unchanged issuer the same object), so a disabled tenant or a changed issuer is verified afresh.
 */
interface KnownToken {
  verified: VerifiedToken;
  /** The end user's id, computed once per token. */
  userId?: string;
}
const verifiedTokens = new WeakMap<
  TenantDirectory,
  { signingKey: unknown; tokens: Map<string, KnownToken> }
>();
const VERIFIED_MAX = 4_096;

async function verifiedOnce(env: Env, token: string, directory: TenantDirectory): Promise<KnownToken> {
  // A changed signing key (a compromised one removed) forgets every token verified under the old set.
  const signingKey = Reflect.get(env, "FRONTEND_SIGNING_KEY");
  let memo = verifiedTokens.get(directory);
  if (!memo || memo.signingKey !== signingKey) {
    memo = { signingKey, tokens: new Map() };
    verifiedTokens.set(directory, memo);
  }
  const known = memo.tokens;
  const cached = known.get(token);
  const live = cached && cached.verified.expiresAt + skewOf(cached.verified) > Date.now() / 1000;
  if (cached && live && (await stillIssuing(env, directory, cached.verified))) return cached;
  if (cached) known.delete(token);
  const issuers: IssuerSource[] = [
    (iss) => directory.issuers.get(iss) ?? [],
    // Stored tenants' issuers: this isolate's copy, read at most once per key-cache TTL.
    async (iss) => (await managedDirectory(env, Date.now())).issuers.get(iss) ?? [],
  ];
  const entry: KnownToken = { verified: await verifyToken({ env, token, issuers }) };
  if (known.size >= VERIFIED_MAX) known.clear();
  known.set(token, entry);
  return entry;
}

/** Whether the issuer that verified a token is still its tenant's, configured or stored. */
async function stillIssuing(env: Env, directory: TenantDirectory, verified: VerifiedToken): Promise<boolean> {
  const issuer = verified.issuer;
  if (!issuer) return true;
  const holds = (index: IssuerIndex) =>
    index
      .get(issuer.issuer)
      ?.some((entry) => entry.issuer === issuer && entry.tenant.id === verified.tenantId) ?? false;
  return holds(directory.issuers) || holds((await managedDirectory(env, Date.now())).issuers);
}

/** The tenant's per-user limits, narrowed by what the token was minted with. */
function userLimits(perUser: PerUserLimits | undefined, scope: TokenScope): Limits {
  const min = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  const own = scope.limits ?? {};
  return {
    requestsPerMinute: min(perUser?.requestsPerMinute, own.requestsPerMinute),
    tokensPerMinute: min(perUser?.tokensPerMinute, own.tokensPerMinute),
    usdPerDay: min(perUser?.usdPerDay, own.usdPerDay),
    maxTokens: min(perUser?.maxTokens, own.maxTokens),
    models: scope.models,
    origins: scope.origins,
  };
}

/**
 * Refuses a long-lived router key on a cross-site browser request (an `Origin` not the router's own, or
 * `Sec-Fetch-Site: cross-site | same-site`): a key in a web page is a key anyone
 * can copy. A heuristic against accidental embedding, not a defence against a deliberate caller, who can
 * leave these headers out. Keys marked browser-allowed, or that name their allowed origins, pass; so do
 * the router's own same-origin pages.
 */
export function guardServerKey(
  request: Request,
  tenant: Tenant,
  key: { capabilities?: string[] } | undefined,
  limits: Limits,
): void {
  if (!isCrossSiteBrowser(request)) return;
  const allowed = key ? key.capabilities?.includes("browser") : tenant.frontend?.browserKeys;
  if (allowed || limits.origins) return;
  throw new RouterError(
    "server_key_in_browser",
    "A server key was sent from a web page of another site. Keep router keys on your backend: mint a short-lived frontend token there (POST /v1/frontend/tokens) and give that to the page, or mark the key browser-allowed.",
  );
}

function isCrossSiteBrowser(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== new URL(request.url).origin) return true;
  // Browsers send Sec-Fetch-Site with Sec-Fetch-Mode; Node's fetch sends `Sec-Fetch-Mode: cors` alone,
  // so the mode without the site is a server, not a page.
  const site = request.headers.get("sec-fetch-site");
  return site === "cross-site" || site === "same-site";
}
