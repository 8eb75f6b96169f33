import { env } from "cloudflare:workers";
import { decodeJwt, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import { expect } from "vitest";
import { sha256Hex } from "../cache/support";
import { type CallInit, callWithUpstream } from "../helpers";

export const ADMIN_KEY = "sk-admin-frontend-000000000000000";

/** A tenant of its own with a bootstrap key, frontend settings and limits; and ROUTER_TENANTS with it. */
export async function frontendTenant(
  frontend: Record<string, unknown> = { mint: true },
  limits: Record<string, unknown> = {},
): Promise<{ id: string; key: string; tenants: string }> {
  const id = `fe-${crypto.randomUUID().slice(0, 8)}`;
  const key = `sk-router-${id}-000000000000`;
  const base = JSON.parse(env.ROUTER_TENANTS) as unknown[];
  const tenant = {
    id,
    keys: [await sha256Hex(key)],
    frontend,
    ...(Object.keys(limits).length ? { limits } : {}),
  };
  return { id, key, tenants: JSON.stringify([...base, tenant]) };
}

/** Calls the router (against the shared simulator unless `baseUrl`), with tenants and the admin key set. */
export async function call(
  tenants: string,
  path: string,
  init: CallInit = {},
  extra: Record<string, unknown> = {},
  baseUrl = env.DEEPSEEK_BASE_URL,
): Promise<Response> {
  return callWithUpstream(baseUrl, path, init, {
    ROUTER_TENANTS: tenants,
    ROUTER_ADMIN_KEY: await sha256Hex(ADMIN_KEY),
    ROUTER_KEY_CACHE_MS: "0",
    ...extra,
  });
}

/** Mints a token with `key`; fails the test unless the router answers 201. */
export async function mint(tenants: string, key: string, body: Record<string, unknown>): Promise<string> {
  const response = await call(tenants, "/v1/frontend/tokens", { key, json: body });
  expect(response.status, await response.clone().text()).toBe(201);
  const answer = (await response.json()) as { token: string };
  return answer.token;
}

/** The router's local signing key (the tests' FRONTEND_SIGNING_KEY), for forging tokens it must refuse. */
export async function routerKey() {
  const jwk = JSON.parse(Reflect.get(env, "FRONTEND_SIGNING_KEY") as string) as JWK;
  return { jwk, key: await importJWK(jwk, "EdDSA") };
}

/** A token like the router's, signed with the router's key, with any claim or header changed. */
export async function forge(
  claims: JWTPayload,
  header: Record<string, unknown> = {},
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  const { jwk, key } = await routerKey();
  return new SignJWT({
    iss: "deepseek-router",
    aud: "deepseek-router/frontend",
    sub: "alice",
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: "EdDSA", kid: jwk.kid, typ: "frt+jwt", ...header })
    .sign(key);
}

export function claimsOf(token: string): JWTPayload {
  return decodeJwt(token);
}

/** base64url of a JSON value or bytes, for hand-built (unsigned or HMAC) tokens. */
export function b64url(value: unknown): string {
  const bytes = value instanceof Uint8Array ? value : new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Signs any header and payload with the router's Ed25519 key, bypassing jose's own checks on signing. */
export async function signRaw(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const { key } = await routerKey();
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = await crypto.subtle.sign("Ed25519", key as CryptoKey, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** Claims the router would put in a token, issued now. */
export function routerClaims(extra: Record<string, unknown> = {}, tenant = "acme"): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: "deepseek-router",
    aud: "deepseek-router/frontend",
    sub: "alice",
    tid: tenant,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    ...extra,
  };
}

/** An identity provider of its own for `issuer` and `audience`: an ES256 key pair with a kid, and its public JWKS. */
export async function provider(
  issuer: string,
  audience: string,
  kid = `k-${crypto.randomUUID().slice(0, 6)}`,
) {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: issuer, aud: audience, sub: "user-42", iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT", ...header })
      .sign(privateKey);
  };
  return { kid, jwks: { keys: [jwk] }, sign };
}

/** The loopback stub serving JWKS (and Turnstile's siteverify) in tests. */
export const STUB = Reflect.get(env, "FRONTEND_STUB_URL") as string;

/** Serves `jwks` at a fresh URL of the stub; its fetches are counted. */
export async function servedJwks(jwks: unknown): Promise<{ name: string; url: string }> {
  const name = `set-${crypto.randomUUID().slice(0, 8)}`;
  await fetch(`${STUB}/jwks/${name}`, { method: "PUT", body: JSON.stringify(jwks) });
  return { name, url: `${STUB}/jwks/${name}` };
}

/** How many times the stub served the JWKS `name`. */
export async function jwksFetches(name: string): Promise<number> {
  return Number(await (await fetch(`${STUB}/_control/fetches/${name}`)).text());
}
