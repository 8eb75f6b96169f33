import { Hono } from "hono";
import type { AppEnv } from "../env";
import { DASHBOARD_HTML } from "../observe/dashboard-page";

/**
 * `GET /dashboard`: the live view of the router. The page itself carries no data and needs no key; it
 * asks for a router key and polls `/v1/usage`, `/v1/router/pools` and `/v1/router/latency` with it
 * every 2 s.
 */
export const dashboard = new Hono<AppEnv>();

/**
 * For the self-contained pages: their own inline script and style, and requests to this origin only.
 * Never framed: a page that takes a key must not be overlaid by another site's (clickjacking).
 */
export const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

dashboard.get("/dashboard", (c) => c.html(DASHBOARD_HTML, 200, PAGE_HEADERS));
// Browsers ask every page's origin for one: an empty answer, not a 401 in the page's console.
dashboard.get("/favicon.ico", (c) => c.body(null, 204, { "cache-control": "public, max-age=86400" }));
