import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { chatBody, createSim } from "../helpers";
import { b64url, call, forge, frontendTenant, mint, routerClaims, routerKey, signRaw } from "./support";

const CHAT = "/v1/chat/completions";
const MESSAGES = "/anthropic/v1/messages";
const HEADER = { alg: "EdDSA", kid: "local-dev-1", typ: "frt+jwt" };
const messages = {
  model: "deepseek-v4-flash",
  max_tokens: 64,
  messages: [{ role: "user", content: "Hi" }],
  thinking: { type: "disabled" },
};

/** Every token here is for tenant `tid`; each must be refused before any upstream call. */
async function badTokens(tid: string): Promise<Array<[string, string, string]>> {
  const now = Math.floor(Date.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => routerClaims(extra, tid);
  const valid = await signRaw(HEADER, claims());
  const [, payload, signature] = valid.split(".");
  const { jwk } = await routerKey();
  const hmacKey = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x })),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const hsInput = `${b64url({ alg: "HS256", kid: "local-dev-1", typ: "frt+jwt" })}.${payload}`;
  const hsSignature = new Uint8Array(
    await crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(hsInput)),
  );
  const noSub = claims();
  delete noSub.sub;
  return [
    ["alg none", `${b64url({ alg: "none", kid: "local-dev-1", typ: "frt+jwt" })}.${payload}.`, "alg 'none'"],
    ["an alg other than the kid's", await signRaw({ ...HEADER, alg: "ES256" }, claims()), "pinned"],
    ["HS256 keyed with the public key", `${hsInput}.${b64url(hsSignature)}`, "alg 'HS256'"],
    ["an unknown kid", await forge({ tid }, { kid: "someone-elses" }), "unknown kid"],
    ["a wrong iss", await forge({ tid, iss: "https://evil.example" }), "issuer"],
    ["a wrong aud", await forge({ tid, aud: "another-service" }), "aud"],
    [
      "an expired token (past the router's 2 s skew)",
      await forge({ tid, iat: now - 700, nbf: now - 700, exp: now - 3 }),
      "expired",
    ],
    ["a future nbf", await forge({ tid, nbf: now + 120 }), "nbf"],
    ["no sub", await signRaw(HEADER, noSub), "sub"],
    [
      "an unknown crit header",
      await signRaw({ ...HEADER, crit: ["x-must-know"], "x-must-know": 1 }, claims()),
      "crit",
    ],
    [
      "a tampered payload",
      `${b64url({ ...HEADER })}.${b64url(claims({ sub: "mallory" }))}.${signature}`,
      "signature",
    ],
  ];
}

describe("strict local verification of frontend tokens", () => {
  it("refuses each malformed or mis-signed token on chat (Bearer) and Messages (x-api-key), before upstream", async () => {
    const sim = await createSim();
    const { id, tenants } = await frontendTenant();
    for (const [name, token, reason] of await badTokens(id)) {
      const chat = await call(tenants, CHAT, { key: token, json: chatBody() }, {}, sim.baseUrl);
      expect(chat.status, name).toBe(401);
      const body = (await chat.json()) as { error: { code: string; message: string } };
      expect(body.error.code, name).toBe("unauthorized");
      expect(body.error.message, name).toContain(reason);
      const anthropic = await call(
        tenants,
        MESSAGES,
        { key: null, json: messages, headers: { "x-api-key": token, "anthropic-version": "2023-06-01" } },
        {},
        sim.baseUrl,
      );
      expect(anthropic.status, name).toBe(401);
      expect(await anthropic.json(), name).toMatchObject({
        type: "error",
        error: { type: "authentication_error" },
      });
    }
    expect((await sim.stats()).requests).toBe(0);
  });

  it("serves a token on chat, FIM, Messages (x-api-key and Bearer) and Responses", async () => {
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "alice" });
    expect((await call(tenants, CHAT, { key: token, json: chatBody() })).status).toBe(200);
    const fim = { model: "deepseek-v4-flash", prompt: "def fib(n):\n    ", max_tokens: 16 };
    expect((await call(tenants, "/beta/completions", { key: token, json: fim })).status).toBe(200);
    const viaApiKey = await call(tenants, MESSAGES, {
      key: null,
      json: messages,
      headers: { "x-api-key": token, "anthropic-version": "2023-06-01" },
    });
    expect(viaApiKey.status).toBe(200);
    const viaBearer = await call(tenants, MESSAGES, {
      key: token,
      json: messages,
      headers: { "anthropic-version": "2023-06-01" },
    });
    expect(viaBearer.status).toBe(200);
    const responses = await call(tenants, "/v1/responses", {
      key: token,
      json: { model: "deepseek-v4-flash", input: "Hello there" },
    });
    expect(responses.status).toBe(200);
  });

  it("serves a token the model list and each listed model, on both surfaces", async () => {
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "alice" });
    for (const path of [
      "/v1/models",
      "/models/deepseek-v4-flash",
      "/v1/models/deepseek-v4-flash",
      "/anthropic/v1/models/deepseek-v4-flash",
    ])
      expect((await call(tenants, path, { key: token, method: "GET" })).status, path).toBe(200);
    expect((await call(tenants, "/v1/models/gpt-4o", { key: token, method: "GET" })).status).toBe(404);
  });

  it("refuses frontend tokens on Files, Batches and other tenant-wide endpoints with a clear 403", async () => {
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "alice" });
    const attempts: Array<[string, RequestInit & { json?: unknown }]> = [
      ["/v1/files", { method: "GET" }],
      [
        "/v1/batches",
        { json: { input_file_id: "file-x", endpoint: "/v1/chat/completions", completion_window: "24h" } },
      ],
      ["/user/balance", { method: "GET" }],
      ["/v1/chat/completions/chatstream_123/stream", { method: "GET" }],
    ];
    for (const [path, init] of attempts) {
      const response = await call(tenants, path, { key: token, ...init });
      expect(response.status, path).toBe(403);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code, path).toBe("frontend_token_not_allowed");
      expect(body.error.message, path).toContain("server key");
    }
  });

  it("rotates signing keys: the new key signs, the old still verifies while listed, and not once removed", async () => {
    const { key, tenants } = await frontendTenant();
    const old = JSON.parse(Reflect.get(env, "FRONTEND_SIGNING_KEY") as string);
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const next = { ...(await exportJWK(privateKey)), kid: "rotated-2", alg: "EdDSA" };
    const before = await mint(tenants, key, { sub: "alice" });
    expect((await call(tenants, CHAT, { key: before, json: chatBody() })).status).toBe(200);
    const both = { FRONTEND_SIGNING_KEY: JSON.stringify({ keys: [next, old] }) };
    const minted = await call(tenants, "/v1/frontend/tokens", { key, json: { sub: "alice" } }, both);
    const after = ((await minted.json()) as { token: string }).token;
    expect(JSON.parse(atob(after.split(".")[0] ?? ""))).toMatchObject({ kid: "rotated-2" });
    expect((await call(tenants, CHAT, { key: before, json: chatBody() }, both)).status).toBe(200);
    expect((await call(tenants, CHAT, { key: after, json: chatBody() }, both)).status).toBe(200);
    const onlyNew = { FRONTEND_SIGNING_KEY: JSON.stringify(next) };
    const refused = await call(tenants, CHAT, { key: before, json: chatBody() }, onlyNew);
    expect(refused.status).toBe(401);
    expect((await refused.json()) as unknown).toMatchObject({
      error: { message: expect.stringContaining("unknown kid") },
    });
    expect((await call(tenants, CHAT, { key: after, json: chatBody() }, onlyNew)).status).toBe(200);
  });
});
