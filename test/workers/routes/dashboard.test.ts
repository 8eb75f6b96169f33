import { describe, expect, it } from "vitest";
import { callRouter, errorOf } from "../helpers";

describe("GET /dashboard", () => {
  it("serves the self-contained live page without a key, and the data it polls needs one", async () => {
    const page = await callRouter("/dashboard", { key: null });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('fetch(path, { headers: { authorization: "Bearer "');
    // The browser's own favicon request is answered, so the page's console shows no 401.
    expect((await callRouter("/favicon.ico", { key: null })).status).toBe(204);
    expect(html).not.toMatch(/https?:\/\//);
    for (const endpoint of ["/v1/usage", "/v1/router/pools", "/v1/router/latency"]) {
      expect(html).toContain(endpoint);
      expect((await callRouter(endpoint, { key: null })).status).toBe(401);
      expect((await callRouter(endpoint)).status).toBe(200);
    }
    // Budget burn: drawn from the limits /v1/usage lists.
    expect(html).toContain('id="burn"');
    expect(html).toContain("usage.limits");
  });

  it.each(["POST", "PUT", "DELETE"])("is 405 for %s, naming GET", async (method) => {
    const response = await callRouter("/dashboard", { key: null, method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
    expect((await errorOf(response)).code).toBe("method_not_allowed");
  });
});
