import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LimitReport } from "../../../src/tenancy/enforce";
import { windowOf } from "../../../src/tenancy/spend";
import { sha256Hex } from "../cache/support";
import { callWithUpstream, chatBody, errorOf } from "../helpers";
import { awayFromMinuteEdge, limitedTenant } from "./support";

const ADMIN_KEY = "sk-admin-visible-000000000000000";

describe("limits the payer can see", () => {
  it("lists each limit of the tenant and of the calling key in /v1/usage, and the key's own limit trips first", async () => {
    await awayFromMinuteEdge();
    const { id, key, tenants } = await limitedTenant({ requestsPerMinute: 10, usdPerDay: 5, lease: 0 });
    const overrides = {
      ROUTER_TENANTS: tenants,
      ROUTER_ADMIN_KEY: await sha256Hex(ADMIN_KEY),
      ROUTER_KEY_CACHE_MS: "0",
    };
    const call = (path: string, init: Parameters<typeof callWithUpstream>[2]) =>
      callWithUpstream(env.DEEPSEEK_BASE_URL, path, init, overrides);
    const created = (await (
      await call(`/admin/tenants/${id}/keys`, {
        key: ADMIN_KEY,
        json: { name: "narrow", limits: { requestsPerMinute: 2 } },
      })
    ).json()) as { id: string; key: string };

    for (let i = 0; i < 2; i++)
      expect((await call("/v1/chat/completions", { key: created.key, json: chatBody() })).status).toBe(200);
    const refused = await call("/v1/chat/completions", { key: created.key, json: chatBody() });
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).message).toContain("this key allows 2 requests per minute");
    // Refused on the key, so counted on neither; the tenant's other key is not held back by it.
    expect((await call("/v1/chat/completions", { key, json: chatBody() })).status).toBe(200);

    const usage = (await (await call("/v1/usage", { key: created.key })).json()) as { limits: LimitReport[] };
    const byName = Object.fromEntries(usage.limits.map((limit) => [`${limit.scope}:${limit.kind}`, limit]));
    expect(byName["tenant:requests"]).toMatchObject({ limit: 10, used: 3, remaining: 7 });
    expect(byName[`${created.id}:requests`]).toMatchObject({ limit: 2, used: 2, remaining: 0 });
    expect(byName["tenant:usd-day"]?.limit).toBe(5);
    const dollars = byName["tenant:usd-day"];
    expect(dollars?.used).toBeGreaterThan(0);
    // Whole billionths of a dollar: a sum of request costs shows without float noise (0.000485999…9).
    for (const value of [dollars?.used ?? 0, dollars?.remaining ?? 0])
      expect(Math.abs(value * 1e9 - Math.round(value * 1e9))).toBeLessThan(1e-6);
    expect(Date.parse(byName["tenant:usd-day"]?.resetsAt ?? "") % 86_400_000).toBe(0);
  });

  it("answers /user/balance in DeepSeek's shape with the tightest dollar budget left", async () => {
    const { key, tenants } = await limitedTenant({ usdPerDay: 3, usdPerMonth: 2.5 });
    // Both of DeepSeek's paths: an OpenAI SDK with its base URL at `…/v1` asks for the second.
    for (const path of ["/user/balance", "/v1/user/balance"]) {
      const response = await callWithUpstream(
        env.DEEPSEEK_BASE_URL,
        path,
        { key },
        { ROUTER_TENANTS: tenants },
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        is_available: true,
        balance_infos: [
          { currency: "USD", total_balance: "2.50", granted_balance: "2.50", topped_up_balance: "0.00" },
        ],
      });
    }
  });

  it("says a spent budget is not available", async () => {
    const { id, key, tenants } = await limitedTenant({ usdPerDay: 1 });
    const day = windowOf("usd-day", Date.now());
    const spend = {
      counter: "tenant:usd-day",
      kind: "usd-day",
      window: day.start,
      windowEnd: day.end,
    } as const;
    await env.SPEND_AUTHORITY.getByName(id).lend([{ ...spend, limit: 1, give: 0, need: 1, want: 0 }]);
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/user/balance",
      { key },
      { ROUTER_TENANTS: tenants },
    );
    expect(await response.json()).toEqual({
      is_available: false,
      balance_infos: [
        { currency: "USD", total_balance: "0.00", granted_balance: "0.00", topped_up_balance: "0.00" },
      ],
    });
  });
});
