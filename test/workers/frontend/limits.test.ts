import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { SpendAuthority } from "../../../src/tenancy/spend-authority";
import { chatBody, createSim, errorOf, eventually } from "../helpers";
import { deliveredAlerts } from "../observe/support";
import { awayFromMinuteEdge } from "../tenancy/support";
import { ADMIN_KEY, call, frontendTenant, mint } from "./support";

const CHAT = "/v1/chat/completions";

describe("per end-user limits", () => {
  it("trips one user's requests per minute with 429, Retry-After and x-ratelimit-*, leaving another user alone", async () => {
    await awayFromMinuteEdge();
    const { key, tenants } = await frontendTenant({ mint: true, perUser: { requestsPerMinute: 3 } });
    const alice = await mint(tenants, key, { sub: "alice" });
    const bob = await mint(tenants, key, { sub: "bob" });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await call(tenants, CHAT, { key: alice, json: chatBody() });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-ratelimit-limit-requests")).toBe("3");
      remaining.push(response.headers.get("x-ratelimit-remaining-requests") ?? "");
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    for (let i = 0; i < 2; i++) {
      // The second refusal is answered from what the isolate already knows.
      const refused = await call(tenants, CHAT, { key: alice, json: chatBody() });
      expect(refused.status).toBe(429);
      const error = await errorOf(refused);
      expect(error).toMatchObject({ code: "requests_per_minute_exceeded", type: "rate_limit_error" });
      expect(error.message).toContain("end user allows 3 requests per minute");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    }
    const other = await call(tenants, CHAT, { key: bob, json: chatBody() });
    expect(other.status).toBe(200);
    expect(other.headers.get("x-ratelimit-remaining-requests")).toBe("2");
  });

  it("lets a token narrow the tenant's per-user limit, never widen it", async () => {
    await awayFromMinuteEdge();
    const { key, tenants } = await frontendTenant({ mint: true, perUser: { requestsPerMinute: 10 } });
    const narrow = await mint(tenants, key, { sub: "carol", limits: { requests_per_minute: 1 } });
    expect((await call(tenants, CHAT, { key: narrow, json: chatBody() })).status).toBe(200);
    expect((await call(tenants, CHAT, { key: narrow, json: chatBody() })).status).toBe(429);
    const wide = await call(tenants, "/v1/frontend/tokens", {
      key,
      json: { sub: "carol", limits: { requests_per_minute: 11 } },
    });
    expect(await errorOf(wide)).toMatchObject({
      code: "scope_exceeded",
      param: "limits.requests_per_minute",
    });
  });

  it("trips tokens per minute on the estimate, per user", async () => {
    await awayFromMinuteEdge();
    const sim = await createSim({ minAnswerTokens: 400, maxAnswerTokens: 400 });
    const { key, tenants } = await frontendTenant(
      { mint: true, perUser: { tokensPerMinute: 1_000 } },
      { lease: 0 },
    );
    const dave = await mint(tenants, key, { sub: "dave" });
    const body = chatBody({ max_tokens: 400 });
    expect((await call(tenants, CHAT, { key: dave, json: body }, {}, sim.baseUrl)).status).toBe(200);
    expect((await call(tenants, CHAT, { key: dave, json: body }, {}, sim.baseUrl)).status).toBe(200);
    const refused = await call(tenants, CHAT, { key: dave, json: body }, {}, sim.baseUrl);
    expect(refused.status).toBe(429);
    expect(await errorOf(refused)).toMatchObject({ code: "tokens_per_minute_exceeded" });
    const erin = await mint(tenants, key, { sub: "erin" });
    expect((await call(tenants, CHAT, { key: erin, json: body }, {}, sim.baseUrl)).status).toBe(200);
  });

  it("spends a user's daily dollars, then answers 402 for that user only", async () => {
    const { key, tenants } = await frontendTenant(
      { mint: true, perUser: { usdPerDay: 0.0001 } },
      { lease: 0 },
    );
    const frank = await mint(tenants, key, { sub: "frank" });
    let refused: Response | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const response = await call(tenants, CHAT, { key: frank, json: chatBody({ max_tokens: 64 }) });
      if (response.status !== 200) refused = response;
    }
    expect(refused?.status).toBe(402);
    expect(refused && (await errorOf(refused)).message).toContain("end user's daily budget");
    const grace = await mint(tenants, key, { sub: "grace" });
    expect((await call(tenants, CHAT, { key: grace, json: chatBody({ max_tokens: 64 }) })).status).toBe(200);
  });

  it("tells the operator when a user's dollar budget is spent, though later refusals never leave the isolate", async () => {
    // Answers of a fixed length, so each request costs the same: the budget is four of them and 5% more.
    const sim = await createSim({ minAnswerTokens: 60, maxAnswerTokens: 60 });
    const body = chatBody({ max_tokens: 60, thinking: { type: "disabled" } });
    const probe = await frontendTenant({ mint: true });
    const probeUser = await mint(probe.tenants, probe.key, { sub: "probe" });
    const priced = await call(probe.tenants, CHAT, { key: probeUser, json: body }, {}, sim.baseUrl);
    const cost = Number(priced.headers.get("x-router-cost-usd"));
    expect(cost).toBeGreaterThan(0);

    const { id, key, tenants } = await frontendTenant({ mint: true, perUser: { usdPerDay: cost * 4.05 } });
    const user = await mint(tenants, key, { sub: "heidi" });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await call(tenants, CHAT, { key: user, json: body }, {}, sim.baseUrl);
      statuses.push(response.status);
      await response.text();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 402, 402, 402]);
    await eventually(async () => {
      const alerts = (await deliveredAlerts(`budget:${id}/user:`))
        .filter((d) => d.path === "/hooks")
        .map((d) => JSON.parse(d.body) as { summary: string; details: { threshold: number } });
      const spent = alerts.find((a) => a.details.threshold === 100);
      expect(spent?.summary).toMatch(
        /^End user 'u_[^']+' of tenant '[^']+' has used 100% of its daily budget/,
      );
    }, 10_000);
  });

  it("caps max_tokens per user: above is a 400, none is sent upstream as the cap", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant({ mint: true, perUser: { maxTokens: 64 } });
    const token = await mint(tenants, key, { sub: "heidi" });
    const over = await call(
      tenants,
      CHAT,
      { key: token, json: chatBody({ max_tokens: 65 }) },
      {},
      sim.baseUrl,
    );
    expect(over.status).toBe(400);
    expect((await errorOf(over)).param).toBe("max_tokens");
    expect((await call(tenants, CHAT, { key: token, json: chatBody() }, {}, sim.baseUrl)).status).toBe(200);
    expect(((await sim.stats()).recent.at(-1)?.body as { max_tokens?: number } | undefined)?.max_tokens).toBe(
      64,
    );
  });

  it("holds a token to the models it was minted for", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "judy", models: ["deepseek-v4-flash"] });
    const refused = await call(
      tenants,
      CHAT,
      { key: token, json: chatBody({ model: "deepseek-v4-pro" }) },
      {},
      sim.baseUrl,
    );
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: "model_not_allowed", param: "model" });
    expect((await sim.stats()).requests).toBe(0);
    expect((await call(tenants, CHAT, { key: token, json: chatBody() }, {}, sim.baseUrl)).status).toBe(200);
  });

  it("answers /v1/usage for the token's user alone, and shows the tenant that user's spend in the admin API", async () => {
    await awayFromMinuteEdge();
    const { id, key, tenants } = await frontendTenant(
      { mint: true, perUser: { requestsPerMinute: 50 } },
      { requestsPerMinute: 1000 },
    );
    const minted = await call(tenants, "/v1/frontend/tokens", { key, json: { sub: "ivan" } });
    const { token, end_user } = (await minted.json()) as { token: string; end_user: string };
    await call(tenants, CHAT, { key: token, json: chatBody() });
    await call(tenants, CHAT, { key: token, json: chatBody() });
    const usage = await call(tenants, "/v1/usage", { key: token });
    expect(usage.status).toBe(200);
    const body = (await usage.json()) as Record<string, unknown> & { limits: Array<Record<string, unknown>> };
    expect(body).not.toHaveProperty("totals");
    expect(body.end_user).toBe(end_user);
    expect(body.limits).toEqual([
      expect.objectContaining({ scope: `user:${end_user}`, kind: "requests", limit: 50 }),
    ]);
    const admin = await call(tenants, `/admin/tenants/${id}/end-users/${end_user}`, { key: ADMIN_KEY });
    expect(admin.status).toBe(200);
    const seen = (await admin.json()) as { limits: Array<{ kind: string; used: number }> };
    expect(seen.limits[0]?.kind).toBe("requests");
    expect(seen.limits[0]?.used).toBeGreaterThanOrEqual(2);
  });

  it("keeps no storage for an idle user once its window has ended", async () => {
    const tenant = `idle-${crypto.randomUUID().slice(0, 8)}`;
    const stub = env.SPEND_AUTHORITY.getByName(tenant);
    const now = Date.now();
    const window = Math.floor(now / 60_000) * 60_000;
    const ask = (user: string, at: number) => ({
      counter: `user:${user}:requests`,
      kind: "requests" as const,
      window: Math.floor(at / 60_000) * 60_000,
      windowEnd: Math.floor(at / 60_000) * 60_000 + 60_000,
      limit: 10,
      give: 0,
      need: 1,
      want: 0,
    });
    await runInDurableObject(stub, async (authority: SpendAuthority) => {
      authority.clock = () => now;
      await authority.lend([ask("u_idle", now)]);
    });
    const rows = await runInDurableObject(stub, async (authority: SpendAuthority, state) => {
      const later = window + 60_000 + 61_000;
      authority.clock = () => later;
      await authority.lend([ask("u_busy", later)]);
      return state.storage.sql.exec<{ counter: string }>("SELECT counter FROM counters").toArray();
    });
    expect(rows.map((row) => row.counter)).toEqual(["user:u_busy:requests"]);
  });
});
