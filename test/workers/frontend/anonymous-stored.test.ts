import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chatBody } from "../helpers";
import { ADMIN_KEY, call } from "./support";

/**
 * A tenant created through the admin API takes the same `frontend` settings as a configured one
 * (README), anonymous sessions included: its static site's visitors get tokens the same way.
 */
describe("anonymous sessions of a tenant created through the admin API", () => {
  it("trades a solved challenge for a token that serves", async () => {
    const tenants = env.ROUTER_TENANTS;
    const id = `anon-${crypto.randomUUID().slice(0, 8)}`;
    const anonymous = {
      turnstileSecret: "TEST_TURNSTILE_SECRET",
      hostnames: ["static.example"],
      limits: { requestsPerMinute: 2 },
    };
    const created = await call(tenants, "/admin/tenants", {
      key: ADMIN_KEY,
      json: { id, frontend: { anonymous } },
    });
    expect(created.status).toBe(201);
    const session = await call(tenants, "/v1/frontend/sessions", {
      key: null,
      json: { tenant: id, turnstile_token: `pass:static.example:${crypto.randomUUID()}` },
      headers: { "cf-connecting-ip": "203.0.113.9", origin: "https://static.example" },
    });
    expect(session.status, await session.clone().text()).toBe(201);
    const { token } = (await session.json()) as { token: string };
    const chat = await call(tenants, "/v1/chat/completions", { key: token, json: chatBody() });
    expect(chat.status).toBe(200);
    expect(chat.headers.get("x-ratelimit-limit-requests")).toBe("2");
  });

  it("refuses a disabled one as having none", async () => {
    const tenants = env.ROUTER_TENANTS;
    const id = `anon-${crypto.randomUUID().slice(0, 8)}`;
    const anonymous = { turnstileSecret: "TEST_TURNSTILE_SECRET", hostnames: ["static.example"] };
    await call(tenants, "/admin/tenants", { key: ADMIN_KEY, json: { id, frontend: { anonymous } } });
    const disabled = await call(tenants, `/admin/tenants/${id}`, {
      key: ADMIN_KEY,
      method: "PATCH",
      json: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    const session = await call(tenants, "/v1/frontend/sessions", {
      key: null,
      json: { tenant: id, turnstile_token: `pass:static.example:${crypto.randomUUID()}` },
      headers: { "cf-connecting-ip": "203.0.113.9" },
    });
    expect(session.status).toBe(404);
  });
});
