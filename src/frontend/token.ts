import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import { type IssuerConfig, type PerUserLimits, perUserLimitsSchema } from "../config/frontend";
import type { Limits } from "../config/limits";
import { RouterError } from "../errors";
import * as z from "../zod";
import { type SigningKeys, signingKeys } from "./signing";

/** `iss` and `aud` of the router's own tokens, and their `typ` (RFC 8725 explicit typing). */
export const ROUTER_ISSUER = "deepseek-router";
export const FRONTEND_AUDIENCE = "deepseek-router/frontend";
export const TOKEN_TYPE = "frt+jwt";
/** Clock skew tolerated on `exp` and `nbf` of a tenant's own issuer's token (another machine's clock), in seconds. */
const CLOCK_SKEW_S = 30;
/**
 * The same for a token the router minted: signed and checked by Cloudflare's synchronized clocks, so a
 * 10 s token lives about 10 s, and only a mint and a first use a second apart on two machines need slack.
 */
const ROUTER_CLOCK_SKEW_S = 2;

/** The skew a verified token is judged with, now and when its cached verification is reused. */
export function skewOf(token: Pick<VerifiedToken, "via">): number {
  return token.via === "router" ? ROUTER_CLOCK_SKEW_S : CLOCK_SKEW_S;
}
export const TTL_BOUNDS_S = { min: 10, max: 3600, default: 600 } as const;

/** What a token may do: its parent's scope, narrowed at mint. Every field absent = the parent's. */
export interface TokenScope {
  models?: string[];
  origins?: string[];
  limits?: PerUserLimits;
}

/** The `scope` claim as {@link signToken} writes it; anything else in a router token is refused. */
const tokenScopeSchema = z.strictObject({
  models: z.optional(z.array(z.string())),
  origins: z.optional(z.array(z.string())),
  limits: z.optional(perUserLimitsSchema),
});

/** A verified frontend credential: who the end user is and what the token allows. */
export interface VerifiedToken {
  /** The end user as the token names them; stays in the isolate (never logged, never sent upstream). */
  sub: string;
  via: "router" | "issuer";
  tenantId: string;
  /** The managed key that minted it; absent for a bootstrap key's or an issuer's token. */
  parentKeyId?: string;
  scope: TokenScope;
  /** When it was issued, in ms: a revocation concerns the tokens issued before it. */
  issuedAtMs: number;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** The tenant's issuer that verified it (an issuer's token only). */
  issuer?: IssuerConfig;
}

/** A tenant's issuer a token may name. */
export interface IssuerCandidate {
  tenant: { id: string };
  issuer: IssuerConfig;
}

/** The issuers of one source (configured tenants, stored tenants) that have this `iss`. */
export type IssuerSource = (
  iss: string,
) => ReadonlyArray<IssuerCandidate> | Promise<ReadonlyArray<IssuerCandidate>>;

/** Compact JWS shape: three base64url parts. Router keys (`sk-…`) never look like this. */
export function looksLikeJws(credential: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(credential);
}

/** Signs a token for `sub` under the current signing key. */
export async function signToken(args: {
  env: object;
  tenantId: string;
  parentKeyId: string | undefined;
  sub: string;
  scope: TokenScope;
  ttlSeconds: number;
  now: number;
}): Promise<{ token: string; expiresAt: number }> {
  const keys = await signingKeys(args.env);
  const iat = Math.floor(args.now / 1000);
  const expiresAt = iat + args.ttlSeconds;
  // iat is in seconds; iat_ms orders a mint against a revocation in the same second.
  const claims: JWTPayload = { tid: args.tenantId, scope: args.scope, iat_ms: args.now };
  if (args.parentKeyId) claims.pkid = args.parentKeyId;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: keys.current.alg, kid: keys.current.kid, typ: TOKEN_TYPE })
    .setIssuer(ROUTER_ISSUER)
    .setAudience(FRONTEND_AUDIENCE)
    .setSubject(args.sub)
    .setJti(crypto.randomUUID())
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(expiresAt)
    .sign(keys.current.privateKey);
  return { token, expiresAt };
}

/**
 * Verifies a frontend token entirely in the isolate: the router's keys and each issuer's JWKS are held
 * in memory (a JWKS URL is fetched on first use and on an unknown `kid`, at most every 30 s). The
 * header's `alg` must be the one pinned for its `kid`; HS*, `none` and any `crit` are refused. An
 * issuer's token is matched by (`iss`, `aud`) against `issuers` in order: a later source is asked only
 * when no earlier one matches, so the first wins.
 */
export async function verifyToken(args: {
  env: object;
  token: string;
  issuers: ReadonlyArray<IssuerSource>;
}): Promise<VerifiedToken> {
  const { header, payload } = decodeUnverified(args.token);
  if (typeof header.alg !== "string" || header.alg === "none" || /^HS/i.test(header.alg)) {
    throw refused(`alg '${String(header.alg)}' is not accepted`);
  }
  if (header.crit !== undefined) throw refused("no crit header parameter is understood");
  if (typeof header.kid !== "string") throw refused("the header names no kid");
  if (payload.iss === ROUTER_ISSUER) return verifyRouterToken(await signingKeys(args.env), args.token);
  if (typeof payload.iss !== "string") throw refused(`issuer '${String(payload.iss)}' is not configured`);
  const audiences = typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []);
  let known = false;
  for (const source of args.issuers) {
    const candidates = await source(payload.iss);
    const match = candidates.find((candidate) => audiences.includes(candidate.issuer.audience));
    if (match) return verifyIssuerToken(match.tenant.id, match.issuer, args.token);
    known ||= candidates.length > 0;
  }
  throw refused(known ? "the audience does not match" : `issuer '${payload.iss}' is not configured`);
}

async function verifyRouterToken(keys: SigningKeys, token: string): Promise<VerifiedToken> {
  const getKey: JWTVerifyGetKey = (header) => {
    const key = keys.byKid.get(header.kid ?? "");
    if (!key) throw refused(`unknown kid '${String(header.kid)}'`);
    if (header.alg !== key.alg)
      throw refused(`alg '${header.alg}' is not the one pinned for kid '${key.kid}'`);
    return key.publicKey;
  };
  const { payload } = await checked(
    jwtVerify(token, getKey, {
      issuer: ROUTER_ISSUER,
      audience: FRONTEND_AUDIENCE,
      typ: TOKEN_TYPE,
      algorithms: ["EdDSA", "ES256"],
      clockTolerance: ROUTER_CLOCK_SKEW_S,
      requiredClaims: ["sub", "exp", "iat", "nbf", "jti", "tid"],
    }),
  );
  if (typeof payload.tid !== "string") throw refused("tid must be a string");
  return {
    sub: subjectOf(payload.sub),
    via: "router",
    tenantId: payload.tid,
    parentKeyId: typeof payload.pkid === "string" ? payload.pkid : undefined,
    scope: scopeOf(payload.scope),
    issuedAtMs: typeof payload.iat_ms === "number" ? payload.iat_ms : (payload.iat ?? 0) * 1000,
    expiresAt: payload.exp ?? 0,
  };
}

async function verifyIssuerToken(
  tenantId: string,
  issuer: IssuerConfig,
  token: string,
): Promise<VerifiedToken> {
  const { payload } = await checked(
    jwtVerify(token, issuerKeys(issuer), {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms,
      clockTolerance: CLOCK_SKEW_S,
      maxTokenAge: issuer.maxTokenAgeSeconds,
      requiredClaims: ["exp", "iat", issuer.userClaim],
    }),
  );
  return {
    sub: subjectOf(payload[issuer.userClaim]),
    via: "issuer",
    tenantId,
    scope: {},
    issuedAtMs: (payload.iat ?? 0) * 1000,
    // A token is held no longer than it is accepted: its exp, or its iat plus the issuer's maximum age.
    expiresAt: Math.min(payload.exp ?? 0, (payload.iat ?? 0) + issuer.maxTokenAgeSeconds),
    issuer,
  };
}

/** An issuer's key set, built once per isolate: inline keys, or a URL whose answer jose caches by kid. */
const keySets = new WeakMap<IssuerConfig, JWTVerifyGetKey>();

function issuerKeys(issuer: IssuerConfig): JWTVerifyGetKey {
  let keys = keySets.get(issuer);
  if (!keys) {
    keys = issuer.jwks
      ? createLocalJWKSet(issuer.jwks as Parameters<typeof createLocalJWKSet>[0])
      : createRemoteJWKSet(new URL(issuer.jwksUrl ?? ""), {
          cacheMaxAge: 600_000,
          cooldownDuration: 30_000,
          timeoutDuration: 3_000,
        });
    keySets.set(issuer, keys);
  }
  return keys;
}

function scopeOf(value: unknown): TokenScope {
  const parsed = tokenScopeSchema.safeParse(value ?? {});
  if (!parsed.success) throw refused("its scope claim is not one the router writes");
  return parsed.data;
}

function subjectOf(value: unknown): string {
  if (typeof value !== "string" || value === "" || value.length > 256) {
    throw refused("the end-user claim must be a non-empty string of at most 256 characters");
  }
  return value;
}

function decodeUnverified(token: string) {
  try {
    return { header: decodeProtectedHeader(token), payload: decodeJwt(token) };
  } catch {
    throw refused("it is not a well-formed JWT");
  }
}

/** jose's verdicts, as 401s that say what failed (never the token). */
async function checked<T>(verifying: Promise<T>): Promise<T> {
  try {
    return await verifying;
  } catch (error) {
    if (error instanceof RouterError) throw error;
    if (error instanceof errors.JWTExpired)
      throw refused(
        error.claim === "iat"
          ? "it was issued longer ago than the issuer's maxTokenAgeSeconds"
          : "it has expired",
      );
    if (error instanceof errors.JWTClaimValidationFailed) {
      throw refused(
        error.claim === "nbf"
          ? "it is not valid yet (nbf)"
          : `claim '${error.claim}' failed: ${error.reason}`,
      );
    }
    if (error instanceof errors.JWKSNoMatchingKey)
      throw refused("no key of the issuer matches its kid and alg");
    if (error instanceof errors.JWSSignatureVerificationFailed)
      throw refused("the signature does not verify");
    if (error instanceof errors.JOSEAlgNotAllowed) throw refused("its alg is not allowed for this issuer");
    if (
      error instanceof errors.JWKSTimeout ||
      (error instanceof errors.JOSEError && error.code === "ERR_JWKS_INVALID")
    ) {
      throw new RouterError(
        "admission_unavailable",
        "The token issuer's keys cannot be fetched right now; retry shortly.",
        {
          headers: { "retry-after": "5" },
          cause: error,
        },
      );
    }
    if (error instanceof errors.JOSEError) throw refused(error.message);
    throw error;
  }
}

export function refused(why: string): RouterError {
  return new RouterError("unauthorized", `Frontend token refused: ${why}.`);
}

/** The limits of a request made with a token: the parent's, with the token's models and origins. */
export function narrowLimits(parent: Limits, scope: TokenScope): Limits {
  const both = (x?: string[], y?: string[]) => (x && y ? x.filter((item) => y.includes(item)) : (x ?? y));
  return {
    ...parent,
    models: both(parent.models, scope.models),
    origins: both(parent.origins, scope.origins),
  };
}
