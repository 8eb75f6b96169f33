import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/app";
import { chatBody, createSim, type SimInstance } from "../helpers";
import { limitedTenant } from "../tenancy/support";

/**
 * Every route of the app, walked: a route that can make the upstream generate (and so bill) must
 * refuse a caller whose budget is spent, and every other route must be known not to reach the
 * upstream's generation endpoints. A route added to the app without being listed here fails, so a new
 * way to the upstream cannot skip the spend gate unnoticed (issue 22).
 */

/** Routes that generate upstream, with a request that would: each must answer 402 with a spent budget. */
const GATED: Record<string, unknown> = {
  "POST /chat/completions": chatBody(),
  "POST /v1/chat/completions": chatBody(),
  "POST /beta/chat/completions": chatBody(),
  "POST /beta/completions": { model: "deepseek-v4-flash", prompt: "def f(", max_tokens: 20 },
  "POST /anthropic/v1/messages": anthropicBody(),
  "POST /anthropic/messages": anthropicBody(),
  "POST /v1/responses": { model: "deepseek-v4-flash", input: "Hello" },
  "POST /responses": { model: "deepseek-v4-flash", input: "Hello" },
  // Batch lines generate later, each through the gate; creating a batch on a spent budget is refused.
  "POST /v1/batches": {
    input_file_id: `file-${"0".repeat(28)}`,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  },
};

/** Routes that never make the upstream generate: reads, operator views, key and file management. */
const FREE = new Set([
  "GET /healthz",
  "GET /dashboard",
  "GET /favicon.ico",
  "GET /operator",
  "GET /metrics",
  "GET /metrics/series",
  "GET /admin/cache/stats",
  // Frontend tokens (issue 23): minting, revoking and keys; a token's own calls go through the gated routes.
  "POST /v1/frontend/tokens",
  "POST /v1/frontend/tokens/revoke",
  "GET /v1/frontend/jwks.json",
  "POST /v1/frontend/sessions",
  "GET /admin/tenants/:tenant/end-users/:id",
  "DELETE /admin/cache/entries/:key",
  "DELETE /admin/cache/tenants/:tenant",
  "DELETE /admin/cache/shared",
  "POST /admin/tenants/:tenant/keys",
  "GET /admin/tenants/:tenant/keys",
  "GET /admin/tenants/:tenant/keys/:id",
  "PATCH /admin/tenants/:tenant/keys/:id",
  "POST /admin/tenants/:tenant/keys/:id/rotate",
  "DELETE /admin/tenants/:tenant/keys/:id",
  "GET /openapi.json",
  "GET /admin/openapi.json",
  "GET /operator/console",
  "GET /admin/tenants",
  "POST /admin/tenants",
  "GET /admin/tenants/:tenant",
  "PATCH /admin/tenants/:tenant",
  "GET /admin/tenants/:tenant/usage",
  "GET /admin/tenants/:tenant/batches",
  "POST /admin/tenants/:tenant/batches/:id/cancel",
  "GET /admin/alerts",
  "GET /models",
  "GET /v1/models",
  "GET /anthropic/v1/models",
  "GET /models/:id",
  "GET /v1/models/:id",
  "GET /anthropic/v1/models/:id",
  "GET /v1/usage",
  "GET /v1/requests",
  "GET /v1/requests/:id",
  "GET /v1/requests/:id/payload",
  "GET /admin/requests",
  "GET /admin/requests/:id",
  "GET /admin/requests/:id/payload",
  "GET /operator/requests",
  "GET /dashboard/requests",
  "GET /user/balance",
  "GET /v1/user/balance",
  "GET /v1/router/pools",
  "GET /v1/router/latency",
  "POST /v1/files",
  "GET /v1/files",
  "GET /v1/files/:id",
  "GET /v1/files/:id/content",
  "DELETE /v1/files/:id",
  "GET /v1/batches",
  "GET /v1/batches/:id",
  "POST /v1/batches/:id/cancel",
  "GET /v1/responses/:id",
  "DELETE /v1/responses/:id",
  "POST /v1/responses/:id",
  "GET /responses/:id",
  "DELETE /responses/:id",
  "POST /responses/:id",
  "GET /v1/responses/:id/cancel",
  "DELETE /v1/responses/:id/cancel",
  "POST /v1/responses/:id/cancel",
  "POST /responses/:id/cancel",
  // A kept Response's input items are read from its owner; nothing is generated.
  "GET /v1/responses/:id/input_items",
  "GET /responses/:id/input_items",
  // Resuming a kept chat stream replays what its owner kept; the owner's call went through the gate.
  "GET /v1/chat/completions/:id/stream",
  "GET /chat/completions/:id/stream",
]);

/** Free but upstream-backed: DeepSeek counts tokens at no charge, so a spent budget still may. */
const COUNTING = "POST /anthropic/v1/messages/count_tokens";

/** The simulator's endpoints that generate, and bill. */
const GENERATING = ["/chat/completions", "/beta/completions", "/anthropic/v1/messages", "/responses"];

function anthropicBody() {
  return { model: "deepseek-v4-flash", max_tokens: 20, messages: [{ role: "user", content: "Hello" }] };
}

/** Each (method, path) a handler answers; middleware (`ALL`) is not a route. */
function appRoutes(): string[] {
  const routes = createApp()
    .routes.filter((route) => route.method !== "ALL")
    .map((route) => `${route.method} ${route.path}`);
  return [...new Set(routes)];
}

let sim: SimInstance;
let spent: { key: string; tenants: string };

beforeAll(async () => {
  sim = await createSim();
  // A daily budget below what any request reserves: spent for every call.
  spent = await limitedTenant({ usdPerDay: 0.000001, lease: 0 });
});

async function generated(): Promise<number> {
  const stats = await sim.stats();
  const byPath = (stats as unknown as { byPath: Record<string, number> }).byPath;
  return GENERATING.reduce((n, path) => n + (byPath[path] ?? 0), 0);
}

async function send(route: string, body: unknown): Promise<Response> {
  const [method = "GET", pattern = "/"] = route.split(" ");
  const path = pattern.replace(/:[a-z]+/g, "x");
  const hasBody = method !== "GET" && method !== "HEAD";
  return sim.call(
    path,
    { method, key: spent.key, ...(hasBody ? { json: body } : {}) },
    { ROUTER_TENANTS: spent.tenants },
  );
}

describe("every route that can reach the upstream spends through the gate", () => {
  it("lists every route of the app as gated, free or refused", async () => {
    const unknown: string[] = [];
    for (const route of appRoutes()) {
      if (route in GATED || FREE.has(route) || route === COUNTING) continue;
      // The app's own 405s for other methods on a known path.
      const response = await send(route, chatBody());
      await response.body?.cancel();
      if (response.status !== 405) unknown.push(route);
    }
    expect(unknown, "new routes: list each in GATED (with a request that would generate) or FREE").toEqual(
      [],
    );
  });

  it.each(Object.entries(GATED))(
    "%s is refused with 402 on a spent budget, and nothing reaches the upstream",
    async (route, body) => {
      const before = await generated();
      const response = await send(route, body);
      const text = await response.text();
      expect(response.status, text).toBe(402);
      expect(text).toContain("budget");
      expect(await generated()).toBe(before);
    },
  );

  it.each([
    ["background", { background: true }],
    ["stored", { store: true }],
    ["resumable chat", undefined],
  ])("a %s answer, whose owner outlives the request, is refused with 402 too", async (_, extra) => {
    const before = await generated();
    const response = extra
      ? await send("POST /v1/responses", { model: "deepseek-v4-flash", input: "Hello", ...extra })
      : await sim.call(
          "/v1/chat/completions",
          { key: spent.key, json: chatBody({ stream: true }), headers: { "x-router-resumable": "on" } },
          { ROUTER_TENANTS: spent.tenants },
        );
    const text = await response.text();
    expect(response.status, text).toBe(402);
    expect(text).toContain("budget");
    expect(await generated()).toBe(before);
  });

  it("free routes make the upstream generate nothing, whatever they are sent", async () => {
    const before = await generated();
    for (const route of FREE) {
      const response = await send(route, chatBody());
      await response.body?.cancel();
    }
    expect(await generated()).toBe(before);
  });

  it("count_tokens stays free on a spent budget, and says so", async () => {
    const response = await send(COUNTING, anthropicBody());
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-cost-usd")).toBe("0");
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });
});
