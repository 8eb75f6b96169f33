import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { windowOf } from "../../../src/tenancy/spend";
import { storedFrom } from "../cache/support";
import { callWithUpstream, chatBody, createSim, errorOf, eventually } from "../helpers";
import { awayFromMinuteEdge, limitedTenant } from "./support";

const CHAT = "/v1/chat/completions";

async function counter(tenant: string, name: string): Promise<number> {
  const kind = name.split(":")[1] as Parameters<typeof windowOf>[0];
  const { start, end } = windowOf(kind, Date.now());
  const [used] = await env.SPEND_AUTHORITY.getByName(tenant).used([
    { counter: name, kind, window: start, windowEnd: end },
  ]);
  return used ?? 0;
}

describe("tenant limits", () => {
  it("trips requests per minute at the request past the limit, with OpenAI's headers and a Retry-After", async () => {
    await awayFromMinuteEdge();
    const { key, tenants } = await limitedTenant({ requestsPerMinute: 3 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await callWithUpstream(
        env.DEEPSEEK_BASE_URL,
        CHAT,
        { key, json: chatBody() },
        { ROUTER_TENANTS: tenants },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get("x-ratelimit-limit-requests")).toBe("3");
      expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+ms|\d+(\.\d+)?s)$/);
      remaining.push(response.headers.get("x-ratelimit-remaining-requests") ?? "");
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: chatBody() },
      { ROUTER_TENANTS: tenants },
    );
    expect(refused.status).toBe(429);
    const error = await errorOf(refused);
    expect(error).toMatchObject({ code: "requests_per_minute_exceeded", type: "rate_limit_error" });
    expect(error.message).toContain("3 requests per minute");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
  });

  it("trips tokens per minute on the estimate of prompt plus max_tokens", async () => {
    await awayFromMinuteEdge();
    const sim = await createSim({ minAnswerTokens: 400, maxAnswerTokens: 400 });
    const { key, tenants } = await limitedTenant({ tokensPerMinute: 1_000, lease: 0 });
    const body = chatBody({ max_tokens: 400 });
    const first = await sim.call(CHAT, { key, json: body }, { ROUTER_TENANTS: tenants });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("1000");
    expect(Number(first.headers.get("x-ratelimit-remaining-tokens"))).toBeLessThan(600);
    expect((await sim.call(CHAT, { key, json: body }, { ROUTER_TENANTS: tenants })).status).toBe(200);
    const refused = await sim.call(CHAT, { key, json: body }, { ROUTER_TENANTS: tenants });
    expect(refused.status).toBe(429);
    expect(await errorOf(refused)).toMatchObject({ code: "tokens_per_minute_exceeded" });
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect(refused.headers.get("x-ratelimit-reset-tokens")).not.toBeNull();
  });

  it("gives back what a request did not use of its token estimate", async () => {
    await awayFromMinuteEdge();
    const sim = await createSim({ minAnswerTokens: 20, maxAnswerTokens: 20 });
    const { id, key, tenants } = await limitedTenant({ tokensPerMinute: 100_000, lease: 0 });
    const response = await sim.call(
      CHAT,
      { key, json: chatBody({ max_tokens: 2_000 }) },
      { ROUTER_TENANTS: tenants },
    );
    const { usage } = (await response.json()) as { usage: { total_tokens: number } };
    await eventually(async () => expect(await counter(id, "tenant:tokens")).toBe(usage.total_tokens));
  });

  it("charges what a request used beyond its token estimate", async () => {
    await awayFromMinuteEdge();
    const sim = await createSim({ minAnswerTokens: 1_500, maxAnswerTokens: 1_500 });
    const { id, key, tenants } = await limitedTenant({ tokensPerMinute: 100_000, lease: 0 });
    // No max_tokens: the class's expected output (600 for chat) is reserved, and 1,500 come back.
    const response = await sim.call(CHAT, { key, json: chatBody() }, { ROUTER_TENANTS: tenants });
    const { usage } = (await response.json()) as { usage: { total_tokens: number } };
    expect(usage.total_tokens).toBeGreaterThan(1_500);
    await eventually(async () => expect(await counter(id, "tenant:tokens")).toBe(usage.total_tokens));
  });

  it("refuses a daily budget that cannot cover the request with 402, what is left and the reset time", async () => {
    const { key, tenants } = await limitedTenant({ usdPerDay: 0.000001 });
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: chatBody() },
      { ROUTER_TENANTS: tenants },
    );
    expect(response.status).toBe(402);
    const error = await errorOf(response);
    expect(error).toMatchObject({ code: "budget_exhausted", type: "insufficient_quota" });
    const reset = new Date(windowOf("usd-day", Date.now()).end).toISOString();
    expect(error.message).toContain("budget of $0.000001 has $0.000001 left, less than this request's");
    expect(error.message).toContain(reset);
    expect(response.headers.get("x-router-budget-reset")).toBe(reset);
  });

  it("answers 429 budget_reserved, not 402, while only a request in flight holds what is left of a budget", async () => {
    const sim = await createSim({ ttftMs: 800, minAnswerTokens: 20, maxAnswerTokens: 20 });
    const body = chatBody({ max_tokens: 2_000 });
    const probe = await sim.call(CHAT, { json: body });
    const estimate = Number(probe.headers.get("x-router-class")?.match(/~\$([0-9.]+)/)?.[1]);
    await probe.text();
    // Room for one reservation, and for the real spend of several such short answers.
    const { key, tenants } = await limitedTenant({ usdPerDay: estimate * 1.5, lease: 0 });
    const call = () => sim.call(CHAT, { key, json: body }, { ROUTER_TENANTS: tenants });
    const first = call();
    await eventually(async () => expect((await sim.stats()).requests).toBe(2));

    const held = await call();
    expect(held.status).toBe(429);
    expect(await errorOf(held)).toMatchObject({ code: "budget_reserved", type: "rate_limit_error" });
    expect(held.headers.get("retry-after")).toBe("2");
    expect((await first).status).toBe(200);
    // The first gave back what it did not spend: the same request now fits.
    await eventually(async () => expect((await call()).status).toBe(200));
  });

  it("degrades to the cheaper model a spent budget still covers, when the tenant allows it", async () => {
    const estimate = async (model: string) => {
      const probe = await callWithUpstream(env.DEEPSEEK_BASE_URL, CHAT, {
        json: chatBody({ model, max_tokens: 200 }),
      });
      return Number(probe.headers.get("x-router-class")?.match(/~\$([0-9.]+)/)?.[1]);
    };
    const [pro, flash] = [await estimate("deepseek-v4-pro"), await estimate("deepseek-v4-flash")];
    expect(flash).toBeLessThan(pro);
    const budget = { usdPerDay: (pro + flash) / 2, lease: 0 };
    const body = chatBody({ model: "deepseek-v4-pro", max_tokens: 200 });

    const strict = await limitedTenant(budget);
    const refused = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key: strict.key, json: body },
      { ROUTER_TENANTS: strict.tenants },
    );
    expect(refused.status).toBe(402);

    const lenient = await limitedTenant(budget, { allowDegrade: true });
    const served = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key: lenient.key, json: body },
      { ROUTER_TENANTS: lenient.tenants },
    );
    expect(served.status).toBe(200);
    expect(served.headers.get("x-router-model")).toBe("deepseek-v4-flash");
    expect(served.headers.get("x-router-degraded")).toBe(
      "deepseek-v4-pro served by deepseek-v4-flash (budget)",
    );
  });

  it("charges a cache hit nothing and counts it against no limit", async () => {
    // The request count is read from the current minute's window: a minute turning mid-test reads 0.
    await awayFromMinuteEdge();
    const { id, key, tenants } = await limitedTenant(
      { usdPerMonth: 10, requestsPerMinute: 100, lease: 0 },
      { cache: "on" },
    );
    const body = chatBody({ messages: [{ role: "user", content: `Cache me ${crypto.randomUUID()}` }] });
    const miss = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: body },
      { ROUTER_TENANTS: tenants },
    );
    expect(miss.headers.get("x-router-cache")).toBe("MISS");
    // The entry is written after the answer (waitUntil): asked before then, the repeat is a second miss.
    await storedFrom(miss);
    let spent = 0;
    await eventually(async () => {
      spent = await counter(id, "tenant:usd-month");
      expect(spent).toBeGreaterThan(0);
      expect(spent).toBeCloseTo(Number(miss.headers.get("x-router-cost-usd")), 8);
    });
    const hit = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: body },
      { ROUTER_TENANTS: tenants },
    );
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    expect(await counter(id, "tenant:usd-month")).toBe(spent);
    expect(await counter(id, "tenant:requests")).toBe(1);
    // The hit still tells a pacing caller where it stands, and shows it took nothing.
    expect(hit.headers.get("x-ratelimit-limit-requests")).toBe("100");
    expect(hit.headers.get("x-ratelimit-remaining-requests")).toBe(
      miss.headers.get("x-ratelimit-remaining-requests"),
    );
  });

  it("allows only the listed models, naming the model", async () => {
    const { key, tenants } = await limitedTenant({ models: ["deepseek-v4-flash"] });
    const refused = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: chatBody({ model: "deepseek-v4-pro" }) },
      { ROUTER_TENANTS: tenants },
    );
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: "model_not_allowed", param: "model" });
    const allowed = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: chatBody() },
      { ROUTER_TENANTS: tenants },
    );
    expect(allowed.status).toBe(200);
  });

  it("caps max_tokens: above the cap is a 400, and a request without one is sent with the cap", async () => {
    const sim = await createSim();
    const { key, tenants } = await limitedTenant({ maxTokens: 64 });
    const over = await sim.call(
      CHAT,
      { key, json: chatBody({ max_tokens: 65 }) },
      { ROUTER_TENANTS: tenants },
    );
    expect(over.status).toBe(400);
    expect(await errorOf(over)).toMatchObject({ code: "invalid_request", param: "max_tokens" });
    const capped = await sim.call(CHAT, { key, json: chatBody() }, { ROUTER_TENANTS: tenants });
    expect(capped.status).toBe(200);
    const sent = (await sim.stats()).recent.at(-1)?.body as { max_tokens?: number };
    expect(sent.max_tokens).toBe(64);
  });

  it("holds the cap on the Responses API too, in that surface's own field, and keeps its body", async () => {
    const sim = await createSim();
    const { key, tenants } = await limitedTenant({ maxTokens: 64 });
    const response = await sim.call(
      "/v1/responses",
      { key, json: { model: "deepseek-v4-flash", input: "Hello", instructions: "Be brief." } },
      { ROUTER_TENANTS: tenants },
    );
    expect(response.status).toBe(200);
    const sent = (await sim.stats()).recent.at(-1)?.body as Record<string, unknown>;
    expect(sent).toMatchObject({ input: "Hello", instructions: "Be brief.", max_output_tokens: 64 });
    expect(sent.messages).toBeUndefined();
  });
});

describe("allowed browser origins", () => {
  const preflight = (origin: string) => ({
    method: "OPTIONS",
    key: null,
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization",
    },
  });

  it("passes a preflight and a request from an allowed origin, and refuses both from another", async () => {
    const { key, tenants } = await limitedTenant({ origins: ["https://app.example.com"] });
    const overrides = { ROUTER_TENANTS: tenants };
    const ok = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      preflight("https://app.example.com"),
      overrides,
    );
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const bad = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      preflight("https://evil.example"),
      overrides,
    );
    expect(bad.headers.get("access-control-allow-origin")).toBeNull();

    const allowed = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: chatBody(), headers: { origin: "https://app.example.com" } },
      overrides,
    );
    expect(allowed.status).toBe(200);
    const refused = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      { key, json: chatBody(), headers: { origin: "https://evil.example" } },
      overrides,
    );
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: "origin_not_allowed" });
  });
});
