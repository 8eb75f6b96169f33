import { describe, expect, it } from "vitest";
import { chatBody, errorOf } from "../helpers";
import { ADMIN_KEY, call, claimsOf, frontendTenant, mint } from "./support";

const TOKENS = "/v1/frontend/tokens";

describe("POST /v1/frontend/tokens", () => {
  it("mints a signed EdDSA token with a kid, for the end user, that the router then accepts", async () => {
    const { id, key, tenants } = await frontendTenant();
    const before = Math.floor(Date.now() / 1000);
    const response = await call(tenants, TOKENS, { key, json: { sub: "alice" } });
    expect(response.status).toBe(201);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const answer = (await response.json()) as { token: string; expires_at: number };
    const [header] = answer.token.split(".");
    expect(JSON.parse(atob(header ?? ""))).toMatchObject({
      alg: "EdDSA",
      kid: "local-dev-1",
      typ: "frt+jwt",
    });
    const claims = claimsOf(answer.token);
    expect(claims).toMatchObject({ sub: "alice", tid: id, iss: "deepseek-router" });
    expect(answer.expires_at - before).toBeGreaterThanOrEqual(600);
    expect(answer.expires_at - before).toBeLessThanOrEqual(601);
    const chat = await call(tenants, "/v1/chat/completions", { key: answer.token, json: chatBody() });
    expect(chat.status).toBe(200);
  });

  it("refuses a body past 256 KiB with a 413, declared or streamed, before parsing it", async () => {
    const { key, tenants } = await frontendTenant();
    const padded = JSON.stringify({ sub: "alice", pad: "a".repeat(300 * 1024) });
    const declared = await call(tenants, TOKENS, { key, json: JSON.parse(padded) });
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).code).toBe("payload_too_large");
    const streamed = await call(tenants, TOKENS, {
      key,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob([padded]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    // A body that merely parses wrong is still the 400 it was.
    const broken = await call(tenants, TOKENS, { key, method: "POST", body: "{" });
    expect((await errorOf(broken)).code).toBe("invalid_json");
  });

  it("keeps ttl_seconds within 10 to 3600", async () => {
    const { key, tenants } = await frontendTenant();
    for (const ttl of [9, 3601, 1.5]) {
      const response = await call(tenants, TOKENS, { key, json: { sub: "a", ttl_seconds: ttl } });
      expect(response.status).toBe(400);
      expect((await errorOf(response)).param).toBe("ttl_seconds");
    }
    const token = await mint(tenants, key, { sub: "a", ttl_seconds: 10 });
    const claims = claimsOf(token);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(10);
  });

  it("refuses a key without the mint capability, and a sub that is missing", async () => {
    const { key, tenants } = await frontendTenant({ mint: false });
    const refused = await call(tenants, TOKENS, { key, json: { sub: "a" } });
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: "mint_not_allowed", type: "permission_error" });
    const minting = await frontendTenant();
    const noSub = await call(minting.tenants, TOKENS, { key: minting.key, json: { ttl_seconds: 60 } });
    expect(noSub.status).toBe(400);
    expect((await errorOf(noSub)).param).toBe("sub");
  });

  it("only narrows the parent's scope: asking for more is a 403 naming the field", async () => {
    const { key, tenants } = await frontendTenant(
      { mint: true, perUser: { requestsPerMinute: 20 } },
      { models: ["deepseek-v4-flash", "chat"], origins: ["https://app.example"], maxTokens: 512 },
    );
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ models: ["deepseek-v4-pro"] }, "models"],
      [{ origins: ["https://evil.example"] }, "origins"],
      [{ max_tokens: 1024 }, "max_tokens"],
      [{ limits: { requests_per_minute: 21 } }, "limits.requests_per_minute"],
    ];
    for (const [extra, param] of cases) {
      const response = await call(tenants, TOKENS, { key, json: { sub: "a", ...extra } });
      expect(response.status).toBe(403);
      expect(await errorOf(response)).toMatchObject({ code: "scope_exceeded", param });
    }
    const token = await mint(tenants, key, {
      sub: "a",
      models: ["deepseek-v4-flash"],
      origins: ["https://app.example"],
      max_tokens: 256,
      limits: { requests_per_minute: 5 },
    });
    expect(claimsOf(token).scope).toEqual({
      models: ["deepseek-v4-flash"],
      origins: ["https://app.example"],
      limits: { maxTokens: 256, requestsPerMinute: 5 },
    });
  });

  it("sends no CORS headers, even to a preflight from an allowed origin", async () => {
    const { key, tenants } = await frontendTenant();
    const preflight = await call(tenants, TOKENS, {
      key: null,
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("access-control-allow-headers")).toBeNull();
    const minted = await call(tenants, TOKENS, { key, json: { sub: "a" } });
    expect(minted.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets a managed key mint only once the admin gives it the mint capability, and a token cannot mint", async () => {
    const { id, tenants } = await frontendTenant({ mint: false });
    const created = await call(tenants, `/admin/tenants/${id}/keys`, {
      key: ADMIN_KEY,
      json: { name: "backend" },
    });
    const managed = (await created.json()) as { id: string; key: string; capabilities: string[] };
    expect(managed.capabilities).toEqual([]);
    const refused = await call(tenants, TOKENS, { key: managed.key, json: { sub: "a" } });
    expect(await errorOf(refused)).toMatchObject({ code: "mint_not_allowed" });
    const patched = await call(tenants, `/admin/tenants/${id}/keys/${managed.id}`, {
      key: ADMIN_KEY,
      method: "PATCH",
      json: { capabilities: ["mint"] },
    });
    expect(((await patched.json()) as { capabilities: string[] }).capabilities).toEqual(["mint"]);
    const token = await mint(tenants, managed.key, { sub: "a" });
    expect(claimsOf(token).pkid).toBe(managed.id);
    const byToken = await call(tenants, TOKENS, { key: token, json: { sub: "b" } });
    expect(byToken.status).toBe(403);
    expect(await errorOf(byToken)).toMatchObject({ code: "frontend_token_not_allowed" });
  });

  it("publishes the public signing keys, never the private part", async () => {
    const { tenants } = await frontendTenant();
    const response = await call(tenants, "/v1/frontend/jwks.json", { key: null });
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(keys).toEqual([expect.objectContaining({ kid: "local-dev-1", alg: "EdDSA", kty: "OKP" })]);
    expect(keys[0]).not.toHaveProperty("d");
  });
});
