import { describe, expect, it } from "vitest";
import { call, frontendTenant, mint } from "./frontend/support";
import { callRouter } from "./helpers";

const ORIGIN = "https://app.example";

/** What a browser sends before a cross-origin request with custom headers. */
function preflight(path: string, requestHeaders: string): Promise<Response> {
  return callRouter(path, {
    key: null,
    method: "OPTIONS",
    headers: {
      origin: ORIGIN,
      "access-control-request-method": "POST",
      "access-control-request-headers": requestHeaders,
    },
  });
}

/** The browser's check: every requested header must be named (case-insensitively) in the answer. */
function allowedHeaders(response: Response): string[] {
  return (response.headers.get("access-control-allow-headers") ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase());
}

describe("CORS preflight from a browser", () => {
  it("allows x-router-priority by name, since browsers do not expand x-router-*", async () => {
    const response = await preflight("/v1/chat/completions", "content-type,authorization,x-router-priority");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(allowedHeaders(response)).toEqual(
      expect.arrayContaining(["content-type", "authorization", "x-router-priority"]),
    );
  });

  it("allows every request header the router documents", async () => {
    const documented = [
      "cache-control",
      "x-request-id",
      "x-router-type",
      "x-router-priority",
      "x-router-latency",
      "x-router-degrade",
      "x-router-deadline-ms",
      "x-router-max-wait-ms",
      "x-router-cache",
    ];
    const response = await preflight("/v1/chat/completions", documented.join(","));
    expect(allowedHeaders(response)).toEqual(expect.arrayContaining(documented));
  });

  it("lets a browser script read the router's response headers", async () => {
    // A page holds a frontend token: a server key from another site's page is refused (server-key guard).
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "page-user" });
    const response = await call(tenants, "/v1/models", { key: token, headers: { origin: ORIGIN } });
    expect(response.status).toBe(200);
    const exposed = response.headers.get("access-control-expose-headers") ?? "";
    for (const name of ["x-request-id", "x-router-cache", "x-router-cost-usd", "retry-after"]) {
      expect(exposed).toContain(name);
    }
  });

  it("sends a server's request (no Origin) no CORS headers, only Vary: Origin for caches", async () => {
    const response = await callRouter("/v1/models");
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-expose-headers")).toBeNull();
    expect(response.headers.get("vary")).toContain("Origin");
  });
});
