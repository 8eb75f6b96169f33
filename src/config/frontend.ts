import * as z from "../zod";

const positiveInt = z.int().check(z.positive(), z.lte(1e12));
const dollars = z.number().check(z.positive(), z.lte(1e9));

/**
 * What one end user of a tenant may do, counted per (tenant, end user) whatever token they present.
 * A tenant sets the defaults; a router-minted token may only narrow them.
 */
export const perUserLimitsSchema = z.strictObject({
  requestsPerMinute: z.optional(positiveInt),
  tokensPerMinute: z.optional(positiveInt),
  usdPerDay: z.optional(dollars),
  maxTokens: z.optional(positiveInt),
});
export type PerUserLimits = z.output<typeof perUserLimitsSchema>;

/** A JWK's other members (`n`, `e`, `x`, `crv`, `use`, `key_ops`, `x5c`…): strings, lists of them, flags. */
const jwkMember = z.union([z.string(), z.array(z.string()), z.boolean(), z.number()]);
const jwkSchema = z.catchall(
  z.object({
    kty: z.string(),
    kid: z.optional(z.string()),
    alg: z.optional(z.string()),
  }),
  jwkMember,
);

/** Asymmetric algorithms only: the router must never hold a tenant's signing secret. */
export const ISSUER_ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA", "Ed25519"] as const;

/** A plain-http URL whose host is this machine. */
const LOOPBACK_HTTP = /^http:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?\//;

/**
 * A tenant's own identity provider (Supabase, Auth0, Clerk, Firebase...): its tokens are accepted as
 * frontend credentials when `iss` and `aud` match and the signature verifies against its JWKS.
 */
const issuerSchema = z
  .strictObject({
    issuer: z.string().check(z.minLength(1), z.maxLength(512)),
    audience: z.string().check(z.minLength(1), z.maxLength(512)),
    /** Inline keys, or `jwksUrl` (fetched once per isolate and kept by `kid`). Exactly one. */
    jwks: z.optional(z.strictObject({ keys: z.array(jwkSchema).check(z.minLength(1), z.maxLength(32)) })),
    /** Over https: the keys decide who is who. Plain http only to a loopback host (a local provider). */
    jwksUrl: z.optional(
      z.url({ protocol: /^https?$/ }).check(
        z.refine((url) => url.startsWith("https://") || LOOPBACK_HTTP.test(url), {
          message: "jwksUrl must be https (plain http only to localhost)",
        }),
      ),
    ),
    /** The claim naming the end user; default `sub`. */
    userClaim: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,64}$/)), "sub"),
    /** The algorithms this issuer signs with; a token whose header names another is refused. */
    algorithms: z._default(z.array(z.enum(ISSUER_ALGORITHMS)).check(z.minLength(1)), ["RS256", "ES256"]),
    /**
     * How long after its `iat` a token is accepted, whatever its `exp` says: a copied token with a far
     * `exp` stops working within this bound even if nobody revokes it. Default a day, which every
     * common provider's access tokens fit (Auth0's longest default; Firebase, Supabase, Clerk an hour
     * or less); up to 30 days.
     */
    maxTokenAgeSeconds: z._default(z.int().check(z.gte(60), z.lte(30 * 86_400)), 86_400),
  })
  .check(
    z.refine((issuer) => (issuer.jwks === undefined) !== (issuer.jwksUrl === undefined), {
      message: "give exactly one of jwks and jwksUrl",
    }),
  );
export type IssuerConfig = z.output<typeof issuerSchema>;

/**
 * Anonymous visitors of a static site (no backend): a page posts a Cloudflare Turnstile token to
 * `POST /v1/frontend/sessions` and gets a short-lived token for a random end user with these limits.
 */
const anonymousSchema = z.strictObject({
  /** The name of the secret (an env var) holding the Turnstile widget's secret key. */
  turnstileSecret: z
    .string()
    .check(z.regex(/^[A-Z][A-Z0-9_]{0,63}$/, "the name of a secret, e.g. TURNSTILE_SECRET")),
  /** Hostnames the Turnstile widget may be solved on (siteverify's `hostname`). */
  hostnames: z
    .array(z.string().check(z.regex(/^[A-Za-z0-9.-]{1,253}$/)))
    .check(z.minLength(1), z.maxLength(32)),
  ttlSeconds: z._default(z.int().check(z.gte(10), z.lte(3600)), 600),
  /** Each anonymous visitor's limits (narrowing `perUser`). */
  limits: z.optional(perUserLimitsSchema),
  models: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.minLength(1))),
});
export type AnonymousConfig = z.output<typeof anonymousSchema>;

/**
 * A tenant's frontend settings (issue 23). Absent: its configured keys mint nothing and no issuer or
 * anonymous session is accepted; a managed key given the `mint` capability still mints (README).
 */
export const frontendSchema = z.strictObject({
  /** The tenant's bootstrap keys (ROUTER_TENANTS) may mint frontend tokens. Managed keys opt in per key. */
  mint: z._default(z.boolean(), false),
  /** The tenant's bootstrap keys may be used from another site's pages (the server-key guard lets them by). */
  browserKeys: z._default(z.boolean(), false),
  /** Per end-user limits every frontend token of the tenant is held to. */
  perUser: z.optional(perUserLimitsSchema),
  issuers: z.optional(z.array(issuerSchema).check(z.maxLength(8))),
  anonymous: z.optional(anonymousSchema),
});
export type FrontendConfig = z.output<typeof frontendSchema>;
