import { describe, expect, it } from "vitest";
import { ACME_KEY } from "../../fixtures/tenants";
import { chatBody, createSim, errorOf } from "../helpers";
import { ADMIN_KEY, call, frontendTenant, mint } from "./support";

const APP = "https://app.example";
const CHAT = "/v1/chat/completions";

/** What the openai and Anthropic SDKs ask a preflight for, as a browser sends it. */
const SDK_HEADERS = [
  "authorization",
  "content-type",
  "x-stainless-os",
  "x-stainless-lang",
  "x-stainless-arch",
  "x-stainless-runtime",
  "x-stainless-runtime-version",
  "x-stainless-package-version",
  "x-stainless-retry-count",
  "x-stainless-timeout",
  "anthropic-version",
  "anthropic-dangerous-direct-browser-access",
  "x-api-key",
];

function preflight(tenants: string, path: string, origin: string): Promise<Response> {
  return call(tenants, path, {
    key: null,
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": SDK_HEADERS.join(","),
    },
  });
}

describe("CORS that browser SDKs pass", () => {
  it("echoes every header the openai and Anthropic SDKs request, with Vary on Origin and the requested headers", async () => {
    const { tenants } = await frontendTenant({ mint: true }, { origins: [APP] });
    for (const path of [CHAT, "/anthropic/v1/messages"]) {
      const response = await preflight(tenants, path, APP);
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(APP);
      const allowed = (response.headers.get("access-control-allow-headers") ?? "").split(",");
      expect(allowed).toEqual(expect.arrayContaining(SDK_HEADERS));
      const vary = (response.headers.get("vary") ?? "").toLowerCase();
      expect(vary).toContain("origin");
      expect(vary).toContain("access-control-request-headers");
    }
  });

  it("gives a disallowed origin no Access-Control-Allow-Origin", async () => {
    const { tenants } = await frontendTenant({ mint: true }, { origins: [APP] });
    const response = await preflight(tenants, CHAT, "https://evil.example");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("exposes x-request-id, retry-after, the x-ratelimit-* headers and the router's own to the page", async () => {
    const { key, tenants } = await frontendTenant({ mint: true, perUser: { requestsPerMinute: 100 } });
    const token = await mint(tenants, key, { sub: "alice" });
    const response = await call(tenants, CHAT, { key: token, json: chatBody(), headers: { origin: APP } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const exposed = (response.headers.get("access-control-expose-headers") ?? "").split(",");
    for (const name of [
      "x-request-id",
      "retry-after",
      "x-ratelimit-limit-requests",
      "x-ratelimit-remaining-requests",
      "x-ratelimit-reset-requests",
      "x-ratelimit-remaining-tokens",
      "x-router-cost-usd",
    ]) {
      expect(exposed).toContain(name);
    }
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("100");
  });
});

describe("origins bound to the credential", () => {
  it("checks a token's origins, intersected with its key's allowlist, with a 403 before any upstream call", async () => {
    const sim = await createSim();
    const other = "https://other.example";
    const { key, tenants } = await frontendTenant({ mint: true }, { origins: [APP, other] });
    const token = await mint(tenants, key, { sub: "alice", origins: [APP] });
    const from = (origin: string) =>
      call(tenants, CHAT, { key: token, json: chatBody(), headers: { origin } }, {}, sim.baseUrl);
    const refused = await from(other);
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: "origin_not_allowed" });
    expect(await errorOf(await from("https://evil.example"))).toMatchObject({ code: "origin_not_allowed" });
    expect((await sim.stats()).requests).toBe(0);
    expect((await from(APP)).status).toBe(200);
  });
});

describe("the server-key guard", () => {
  it("refuses a server key on a cross-site browser request, pointing to frontend tokens", async () => {
    const sim = await createSim();
    const { tenants } = await frontendTenant();
    const crossSite: Array<Record<string, string>> = [
      { origin: APP },
      { "sec-fetch-mode": "cors", "sec-fetch-site": "cross-site" },
      { origin: "null" },
    ];
    for (const headers of crossSite) {
      const response = await call(
        tenants,
        CHAT,
        { key: ACME_KEY, json: chatBody(), headers },
        {},
        sim.baseUrl,
      );
      expect(response.status).toBe(403);
      const error = await errorOf(response);
      expect(error.code).toBe("server_key_in_browser");
      expect(error.message).toContain("/v1/frontend/tokens");
    }
    expect((await sim.stats()).requests).toBe(0);
  });

  it("lets the same key through from a server (Node's fetch included), and from the router's own same-origin pages", async () => {
    const { tenants } = await frontendTenant();
    const from = (headers: Record<string, string>) =>
      call(tenants, CHAT, { key: ACME_KEY, json: chatBody(), headers });
    expect((await from({})).status).toBe(200);
    expect((await from({ origin: "http://router.test" })).status).toBe(200);
    expect((await from({ "sec-fetch-mode": "cors", "sec-fetch-site": "same-origin" })).status).toBe(200);
    // Node's fetch (undici) sends Sec-Fetch-Mode: cors from servers, with no site or origin.
    expect((await from({ "sec-fetch-mode": "cors" })).status).toBe(200);
  });

  it("lets a key marked browser-allowed through: a tenant's configured keys, or a managed key's capability", async () => {
    const marked = await frontendTenant({ browserKeys: true });
    const viaConfig = await call(marked.tenants, CHAT, {
      key: marked.key,
      json: chatBody(),
      headers: { origin: APP },
    });
    expect(viaConfig.status).toBe(200);

    const { id, tenants } = await frontendTenant();
    const created = await call(tenants, `/admin/tenants/${id}/keys`, {
      key: ADMIN_KEY,
      json: { name: "browser demo", capabilities: ["browser"] },
    });
    const managed = (await created.json()) as { key: string };
    const viaCapability = await call(tenants, CHAT, {
      key: managed.key,
      json: chatBody(),
      headers: { origin: APP },
    });
    expect(viaCapability.status).toBe(200);
  });
});
