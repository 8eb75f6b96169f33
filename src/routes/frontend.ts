import type { Context } from "hono";
import { Hono } from "hono";
import { sha256Hex } from "../bytes";
import { misconfigured } from "../config/settings";
import { loadTenants } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { endUserId } from "../frontend/identity";
import { parseMintRequest, scopeOf } from "../frontend/mint";
import { signingKeys } from "../frontend/signing";
import { signToken } from "../frontend/token";
import { verifyTurnstile } from "../frontend/turnstile";
import { presentedCredential } from "../middleware/auth";
import { effectiveLimits, limitsReport, scopesOf } from "../tenancy/enforce";
import { keyCacheTtl, REGISTRY_NAME } from "../tenancy/keys";
import { findTenantById } from "../tenancy/tenant-directory";
import * as z from "../zod";
import { bodyAs, jsonBody, optionalJsonBody } from "./body";

export const FRONTEND_TOKEN_PATHS = ["/v1/frontend/tokens", "/v1/frontend/tokens/revoke"] as const;
export const FRONTEND_JWKS_PATH = "/v1/frontend/jwks.json";
export const FRONTEND_SESSION_PATH = "/v1/frontend/sessions";
/** The `pkid` of an anonymous session's token: no key minted it. */
export const ANONYMOUS_PARENT = "anon";

/**
 * `/v1/frontend/tokens` (issue 23): an app's backend, holding a server key that may mint, gets a
 * short-lived token for one end user to hand to its page; `/revoke` ends an end user's tokens, or all of
 * the calling key's. Served without CORS headers (app.ts), so no page can read a token minted here.
 */
export const frontendTokens = new Hono<AppEnv>();

frontendTokens.post("/v1/frontend/tokens", async (c) => {
  const parentKeyId = await mintingKey(c);
  const request = parseMintRequest(await jsonBody(c.req.raw));
  const tenant = c.get("tenant");
  const parent = effectiveLimits(scopesOf(tenant, c.get("routerKey")));
  const scope = scopeOf(request, parent, tenant.frontend);
  const { token, expiresAt } = await signToken({
    env: c.env,
    tenantId: tenant.id,
    parentKeyId,
    sub: request.sub,
    scope,
    ttlSeconds: request.ttl_seconds,
    now: Date.now(),
  });
  return c.json(
    {
      object: "frontend.token",
      token,
      expires_at: expiresAt,
      end_user: await endUserId(c.env, tenant.id, request.sub),
    },
    201,
  );
});

export const revokeSchema = z.strictObject({
  sub: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});

frontendTokens.post("/v1/frontend/tokens/revoke", async (c) => {
  await mintingKey(c);
  // No body means `{}` (every token of the key); a body that does not parse never does.
  const parsed = revokeSchema.safeParse(await optionalJsonBody(c.req.raw));
  if (!parsed.success)
    throw new RouterError("invalid_request", 'Send {"sub": "<end user>"} or {}.', { param: "sub" });
  const tenant = c.get("tenant");
  const registry = c.env.KEY_REGISTRY.getByName(REGISTRY_NAME);
  const { sub } = parsed.data;
  if (sub !== undefined) {
    const id = await endUserId(c.env, tenant.id, sub);
    await registry.revokeUser(tenant.id, id);
    return c.json({ object: "frontend.revocation", end_user: id, propagation_seconds: propagation(c) });
  }
  const key = c.get("routerKey");
  if (!key) {
    throw new RouterError(
      "invalid_request",
      "A configured (bootstrap) key's tokens end when the key is removed from ROUTER_TENANTS; name a sub to revoke one end user.",
      { param: "sub" },
    );
  }
  await registry.revokeKeyTokens(tenant.id, key.id);
  return c.json({ object: "frontend.revocation", key: key.id, propagation_seconds: propagation(c) });
});

/** The router's public signing keys, so an app can check a token it was given. */
export const frontendKeys = new Hono<AppEnv>();

frontendKeys.get(FRONTEND_JWKS_PATH, async (c) => {
  const keys = await signingKeys(c.env);
  return c.json({ keys: [...keys.byKid.values()].map((key) => ({ ...key.publicJwk, alg: key.alg })) }, 200, {
    "cache-control": "public, max-age=300",
  });
});

/**
 * The calling key's id for the token's `pkid`, if it may mint: a managed key with the `mint`
 * capability, or a bootstrap key of a tenant whose `frontend.mint` is on (named by its digest's prefix,
 * so removing the key from ROUTER_TENANTS ends its tokens).
 */
async function mintingKey(c: Context<AppEnv>): Promise<string> {
  const key = c.get("routerKey");
  if (key) {
    if (key.capabilities?.includes("mint")) return key.id;
    throw new RouterError(
      "mint_not_allowed",
      `Key '${key.name}' may not mint frontend tokens: give it the 'mint' capability.`,
    );
  }
  if (!c.get("tenant").frontend?.mint) {
    throw new RouterError(
      "mint_not_allowed",
      "This tenant's configured keys may not mint frontend tokens (frontend.mint).",
    );
  }
  // The very credential authentication accepted (middleware/auth.ts).
  const credential = presentedCredential(c) ?? "";
  return `cfg:${(await sha256Hex(credential)).slice(0, 16)}`;
}

/** How soon a revocation reaches every isolate: the key cache's TTL (frontend/standing.ts). */
function propagation(c: Context<AppEnv>): number {
  return keyCacheTtl(c.env) / 1000;
}

/**
 * `GET /admin/tenants/:tenant/end-users/:id`: one end user's counters in their current windows (the
 * tenant's per-user limits), by the id a mint answer gives as `end_user`. Behind the admin guard.
 */
export const endUsersAdmin = new Hono<AppEnv>();

endUsersAdmin.get("/tenants/:tenant/end-users/:id", async (c) => {
  // Configured or created through the admin API alike.
  const tenant = await findTenantById(c.env, c.req.param("tenant"), Date.now());
  if (!tenant) throw new RouterError("not_found", "No such tenant.", { param: "tenant" });
  const id = c.req.param("id");
  if (!/^u_[A-Za-z0-9_-]{24}$/.test(id)) {
    throw new RouterError("invalid_request", "Not an end-user id (u_…, as a mint answer's end_user).", {
      param: "id",
    });
  }
  const perUser = tenant.frontend?.perUser ?? {};
  const limits = await limitsReport(
    c.env.SPEND_AUTHORITY,
    scopesOf(tenant, undefined, { id, limits: perUser }),
    Date.now(),
  );
  return c.json({
    object: "end_user",
    tenant: tenant.id,
    id,
    limits: limits.filter((report) => report.scope.startsWith("user:")),
  });
});

export const sessionSchema = z.strictObject({
  tenant: z.string().check(z.minLength(1), z.maxLength(64)),
  turnstile_token: z.string().check(z.minLength(1), z.maxLength(2048)),
});

/**
 * `POST /v1/frontend/sessions`: an anonymous visitor of a static site (no backend) trades a solved
 * Turnstile challenge for a short-lived token of a random end user with the tenant's anonymous limits.
 * No key: the page calls it directly, so it answers with CORS like the API. Mints are limited per client
 * IP per location (the Rate Limiting binding), and each Turnstile token works once.
 */
export const frontendSessions = new Hono<AppEnv>();

frontendSessions.post(FRONTEND_SESSION_PATH, async (c) => {
  const session = bodyAs(sessionSchema, await jsonBody(c.req.raw), "session request");
  if (!loadTenants(c.env.ROUTER_TENANTS).ok) throw misconfigured();
  // Configured, or created through the admin API (as the token's own check finds it).
  const tenant = await findTenantById(c.env, session.tenant, Date.now());
  const anonymous = tenant?.frontend?.anonymous;
  if (!tenant || !anonymous) {
    throw new RouterError("not_found", "This tenant has no anonymous sessions.", { param: "tenant" });
  }
  const ip = c.req.header("cf-connecting-ip");
  const { success } = await c.env.SESSION_RATE_LIMIT.limit({ key: `${tenant.id}:${ip ?? "unknown"}` });
  if (!success) {
    throw new RouterError(
      "rate_limited",
      "Too many anonymous sessions from this address; retry in a minute.",
      {
        headers: { "retry-after": "60" },
      },
    );
  }
  await verifyTurnstile({ env: c.env, config: anonymous, token: session.turnstile_token, remoteIp: ip });
  const sub = `anon_${crypto.randomUUID()}`;
  const { token, expiresAt } = await signToken({
    env: c.env,
    tenantId: tenant.id,
    parentKeyId: ANONYMOUS_PARENT,
    sub,
    scope: {
      ...(anonymous.limits ? { limits: anonymous.limits } : {}),
      ...(anonymous.models ? { models: anonymous.models } : {}),
    },
    ttlSeconds: anonymous.ttlSeconds,
    now: Date.now(),
  });
  return c.json(
    {
      object: "frontend.session",
      token,
      expires_at: expiresAt,
      end_user: await endUserId(c.env, tenant.id, sub),
    },
    201,
  );
});
