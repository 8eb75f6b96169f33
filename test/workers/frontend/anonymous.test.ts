import { describe, expect, it } from "vitest";
import { chatBody, errorOf } from "../helpers";
import { call, claimsOf, frontendTenant } from "./support";

const SESSIONS = "/v1/frontend/sessions";

async function anonymousTenant(extra: Record<string, unknown> = {}) {
  return frontendTenant({
    anonymous: {
      turnstileSecret: "TEST_TURNSTILE_SECRET",
      hostnames: ["static.example"],
      ttlSeconds: 300,
      limits: { requestsPerMinute: 2 },
      ...extra,
    },
  });
}

/** A Turnstile token the loopback siteverify passes once, for `hostname`. */
function solved(hostname = "static.example"): string {
  return `pass:${hostname}:${crypto.randomUUID()}`;
}

function session(tenants: string, tenant: string, token: string, ip = "203.0.113.7") {
  return call(tenants, SESSIONS, {
    key: null,
    json: { tenant, turnstile_token: token },
    headers: { "cf-connecting-ip": ip, origin: "https://static.example" },
  });
}

describe("anonymous sessions gated by Turnstile", () => {
  it("trades a solved challenge for a short-lived token of a random user, with the anonymous limits", async () => {
    const { id, tenants } = await anonymousTenant();
    const response = await session(tenants, id, solved());
    expect(response.status).toBe(201);
    expect(response.headers.get("access-control-allow-origin")).not.toBeNull();
    const { token, expires_at } = (await response.json()) as { token: string; expires_at: number };
    const claims = claimsOf(token);
    expect(claims.sub).toMatch(/^anon_/);
    expect(expires_at - (claims.iat ?? 0)).toBe(300);
    expect(claims.scope).toEqual({ limits: { requestsPerMinute: 2 } });
    const chat = await call(tenants, "/v1/chat/completions", { key: token, json: chatBody() });
    expect(chat.status).toBe(200);
    expect(chat.headers.get("x-ratelimit-limit-requests")).toBe("2");
    const other = claimsOf(
      ((await (await session(tenants, id, solved())).json()) as { token: string }).token,
    );
    expect(other.sub).not.toBe(claims.sub);
  });

  it("maps a failed challenge, a reused token and a wrong hostname to clear 403s", async () => {
    const { id, tenants } = await anonymousTenant();
    const failed = await session(tenants, id, "not-solved");
    expect(failed.status).toBe(403);
    expect(await errorOf(failed)).toMatchObject({ code: "turnstile_failed", param: "turnstile_token" });
    const once = solved();
    expect((await session(tenants, id, once)).status).toBe(201);
    const reused = await session(tenants, id, once);
    expect(reused.status).toBe(403);
    expect((await errorOf(reused)).message).toContain("already used");
    const elsewhere = await session(tenants, id, solved("evil.example"));
    expect(elsewhere.status).toBe(403);
    expect((await errorOf(elsewhere)).message).toContain("'evil.example'");
  });

  it("refuses a tenant without anonymous sessions", async () => {
    const { id, tenants } = await frontendTenant();
    const response = await session(tenants, id, solved());
    expect(response.status).toBe(404);
  });

  it("limits mints per client IP, leaving another IP alone", async () => {
    const { id, tenants } = await anonymousTenant();
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await session(tenants, id, solved(), ip)).status);
    expect(statuses.slice(0, 10).every((status) => status === 201)).toBe(true);
    expect(statuses[10]).toBe(429);
    expect((await session(tenants, id, solved(), "192.0.2.1")).status).toBe(201);
  });
});
