import type { Context, MiddlewareHandler } from "hono";
import { loadTenants } from "../config/tenants";
import type { AppEnv } from "../env";
import { namedOrigins } from "../tenancy/tenant-directory";
import { stampResponse } from "./stamp";

const ALLOW_METHODS = "GET,HEAD,PUT,POST,DELETE,PATCH,QUERY";
const PREFLIGHT_MAX_AGE_S = "600";

/**
 * CORS for browsers calling the router directly (issue 23). A preflight is answered here, echoing the
 * headers it asks for: browser SDKs send headers no fixed list keeps up with (the openai SDK's
 * x-stainless-*, the Anthropic SDK's anthropic-dangerous-direct-browser-access), and only an allowed
 * origin can use them. Any other request gets its CORS headers on the way out, set on the answer itself:
 * nothing is written before the handler runs, so the answer is never copied to merge headers into it.
 * A request without an Origin gets none but `Vary`: a browser sends one with every cross-origin
 * request, and a server has no use for them.
 */
export function browserCors(exposeHeaders: readonly string[]): MiddlewareHandler<AppEnv> {
  const exposed = exposeHeaders.join(",");
  return async function cors(c, next) {
    const origin = c.req.header("origin") ?? "";
    if (c.req.method === "OPTIONS") return preflight(c, await allowedOrigin(c, origin), exposed);
    await next();
    const allowed = origin === "" ? null : await allowedOrigin(c, origin);
    if (allowed) {
      stampResponse(c, "access-control-allow-origin", allowed);
      stampResponse(c, "access-control-expose-headers", exposed);
    }
    stampResponse(c, "vary", "Origin", { append: true });
  };
}

function preflight(c: Context<AppEnv>, allowed: string | null, exposed: string): Response {
  const headers = new Headers({ vary: "Origin", "access-control-max-age": PREFLIGHT_MAX_AGE_S });
  if (allowed) {
    headers.set("access-control-allow-origin", allowed);
    headers.set("access-control-expose-headers", exposed);
  }
  headers.set("access-control-allow-methods", ALLOW_METHODS);
  const requested = c.req.header("access-control-request-headers");
  if (requested) {
    headers.set(
      "access-control-allow-headers",
      requested
        .split(",")
        .map((name) => name.trim())
        .join(","),
    );
    headers.append("vary", "Access-Control-Request-Headers");
  }
  return new Response(null, { status: 204, headers });
}

/**
 * The origin to allow, or null. Once any tenant names its origins, only those pass; tenants of the
 * admin API count too, read only for a browser's request (one with an Origin).
 */
async function allowedOrigin(c: Context<AppEnv>, origin: string): Promise<string | null> {
  if (origin === "") return allowedWithoutOrigin(c);
  const named = await namedOrigins(c.env, Date.now());
  if (named && !named.has(origin)) return null;
  const allowed = c.get("settings")?.CORS_ORIGINS ?? [];
  if (allowed.includes("*")) return named ? origin : "*";
  return allowed.includes(origin) ? origin : null;
}

/** A request without an Origin (a server's, or a same-origin one): allowed only while no tenant names origins. */
function allowedWithoutOrigin(c: Context<AppEnv>): string | null {
  const tenants = loadTenants(c.env.ROUTER_TENANTS);
  if (tenants.ok && tenants.value.origins) return null;
  return c.get("settings")?.CORS_ORIGINS.includes("*") ? "*" : null;
}
