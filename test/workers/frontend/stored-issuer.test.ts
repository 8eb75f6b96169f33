import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { endUserId } from "../../../src/frontend/identity";
import { chatBody, createSim, errorOf } from "../helpers";
import { ADMIN_KEY, call, frontendTenant, jwksFetches, provider, servedJwks } from "./support";

const CHAT = "/v1/chat/completions";
const CONFIGURED = env.ROUTER_TENANTS;

/** An issuer URL of this test's own, so tenants of other tests never hold its pairs. */
function freshIssuer(): string {
  return `https://login-${crypto.randomUUID().slice(0, 8)}.example.test`;
}

/** The admin API, with `tenants` as ROUTER_TENANTS. */
function admin(path: string, json: unknown, method = "POST", tenants = CONFIGURED): Promise<Response> {
  return call(tenants, `/admin${path}`, { key: ADMIN_KEY, method, json });
}

/** Creates a tenant through the admin API trusting `issuers`; fails the test unless it is created. */
async function storedTenant(
  issuers: Array<Record<string, unknown>>,
  frontend: Record<string, unknown> = {},
): Promise<string> {
  const id = `st-${crypto.randomUUID().slice(0, 8)}`;
  const created = await admin("/tenants", { id, frontend: { issuers, ...frontend } });
  expect(created.status, await created.clone().text()).toBe(201);
  return id;
}

/** A chat with `token` as the bearer, against `baseUrl`, the tenant directory trusted for `cacheMs`. */
function chat(token: string, baseUrl = env.DEEPSEEK_BASE_URL, cacheMs = "0"): Promise<Response> {
  return call(CONFIGURED, CHAT, { key: token, json: chatBody() }, { ROUTER_KEY_CACHE_MS: cacheMs }, baseUrl);
}

describe("a tenant created through the admin API brings its own issuer", () => {
  it("accepts its users' login tokens as that tenant's end users, with its per-user limits", async () => {
    const sim = await createSim();
    const issuer = freshIssuer();
    const idp = await provider(issuer, "my-app");
    const id = await storedTenant([{ issuer, audience: "my-app", jwks: idp.jwks, algorithms: ["ES256"] }], {
      perUser: { requestsPerMinute: 50 },
    });
    const token = await idp.sign({ sub: "user-42" });

    expect((await chat(token, sim.baseUrl)).status).toBe(200);
    const sent = (await sim.stats()).recent.at(-1)?.body as { user_id: string };
    expect(sent.user_id).toBe(await endUserId(env, id, "user-42"));
    const usage = await call(CONFIGURED, "/v1/usage", { key: token });
    expect(await usage.json()).toMatchObject({
      end_user: sent.user_id,
      limits: [expect.objectContaining({ scope: `user:${sent.user_id}`, kind: "requests", limit: 50 })],
    });
    const spend = (await (
      await call(CONFIGURED, `/admin/tenants/${id}/usage`, { key: ADMIN_KEY })
    ).json()) as {
      totals: { requests: number };
    };
    expect(spend.totals.requests).toBe(1);
    const endUser = await call(CONFIGURED, `/admin/tenants/${id}/end-users/${sent.user_id}`, {
      key: ADMIN_KEY,
    });
    expect(endUser.status).toBe(200);
    expect(await endUser.json()).toMatchObject({
      object: "end_user",
      tenant: id,
      limits: [expect.objectContaining({ scope: `user:${sent.user_id}`, kind: "requests", limit: 50 })],
    });

    const wrongAudience = await chat(await idp.sign({ aud: "another-app" }), sim.baseUrl);
    expect(wrongAudience.status).toBe(401);
    expect((await errorOf(wrongAudience)).message).toContain("audience");
    const impostor = await provider(issuer, "my-app", idp.kid);
    const forged = await chat(await impostor.sign({}), sim.baseUrl);
    expect(forged.status).toBe(401);
    expect((await errorOf(forged)).message).toContain("signature");
    expect((await sim.stats()).requests).toBe(1);
  });

  it("fetches an issuer's JWKS URL once per isolate, however often the stored tenants are read again", async () => {
    const issuer = freshIssuer();
    const idp = await provider(issuer, "my-app");
    const { name, url } = await servedJwks(idp.jwks);
    await storedTenant([{ issuer, audience: "my-app", jwksUrl: url, algorithms: ["ES256"] }]);
    // A key cache TTL of 0: every request reads the stored tenants afresh.
    for (const sub of ["user-42", "user-43", "user-44"]) {
      expect((await chat(await idp.sign({ sub }))).status).toBe(200);
    }
    expect(await jwksFetches(name)).toBe(1);
  });

  it("stops its tokens when the tenant is disabled or drops the issuer, and takes them back when enabled", async () => {
    const issuer = freshIssuer();
    const idp = await provider(issuer, "my-app");
    const id = await storedTenant([{ issuer, audience: "my-app", jwks: idp.jwks }]);
    const token = await idp.sign({});
    expect((await chat(token)).status).toBe(200);

    expect((await admin(`/tenants/${id}`, { disabled: true }, "PATCH")).status).toBe(200);
    const disabled = await chat(token);
    expect(disabled.status).toBe(401);
    expect((await errorOf(disabled)).message).toContain("is not configured");
    expect((await admin(`/tenants/${id}`, { disabled: false }, "PATCH")).status).toBe(200);
    expect((await chat(token)).status).toBe(200);

    // A key dropped from the issuer's inline JWKS: the token verified under it is verified again, and fails.
    const rotated = await provider(issuer, "my-app");
    const change = { frontend: { issuers: [{ issuer, audience: "my-app", jwks: rotated.jwks }] } };
    expect((await admin(`/tenants/${id}`, change, "PATCH")).status).toBe(200);
    expect((await chat(token)).status).toBe(401);
    expect((await chat(await rotated.sign({}))).status).toBe(200);
  });

  it("keeps a disabled tenant's tokens working only until the key cache's bound passes", async () => {
    const issuer = freshIssuer();
    const idp = await provider(issuer, "my-app");
    const id = await storedTenant([{ issuer, audience: "my-app", jwks: idp.jwks }]);
    const token = await idp.sign({});
    // The model list: authenticated like a chat, with no upstream call or accounting to wait for.
    const models = (cacheMs: string) =>
      call(CONFIGURED, "/v1/models", { key: token }, { ROUTER_KEY_CACHE_MS: cacheMs });
    expect((await models("0")).status).toBe(200);
    await admin(`/tenants/${id}`, { disabled: true }, "PATCH");
    // This isolate read the tenants just now and trusts that copy for 1 s: no registry call per token.
    expect((await models("1000")).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await models("1000")).status).toBe(401);
  });

  it("does not read the registry for each token of an unknown issuer: a new issuer arrives with the next refresh", async () => {
    const issuer = freshIssuer();
    const idp = await provider(issuer, "my-app");
    const token = await idp.sign({});
    expect((await chat(token, undefined, "60000")).status).toBe(401);
    await storedTenant([{ issuer, audience: "my-app", jwks: idp.jwks }]);
    const unknown = await chat(token, undefined, "60000");
    expect(unknown.status).toBe(401);
    expect((await errorOf(unknown)).message).toContain("is not configured");
    expect((await chat(token, undefined, "0")).status).toBe(200);
  });
});

describe("an (issuer, audience) pair names one tenant", () => {
  it("is refused to a stored tenant when a configured tenant has it; the same issuer with another audience is not", async () => {
    const issuer = freshIssuer();
    const configuredIdp = await provider(issuer, "app-a");
    const configured = await frontendTenant({
      issuers: [{ issuer, audience: "app-a", jwks: configuredIdp.jwks }],
    });
    const storedIdp = await provider(issuer, "app-b");
    const clash = await admin(
      "/tenants",
      {
        id: `st-${crypto.randomUUID().slice(0, 8)}`,
        frontend: { issuers: [{ issuer, audience: "app-a", jwks: storedIdp.jwks }] },
      },
      "POST",
      configured.tenants,
    );
    expect(clash.status).toBe(409);
    const error = await errorOf(clash);
    expect(error).toMatchObject({ code: "invalid_request", param: "frontend.issuers.0" });
    expect(error.message).toContain(`tenant '${configured.id}'`);

    const id = `st-${crypto.randomUUID().slice(0, 8)}`;
    const own = { issuer, audience: "app-b", jwks: storedIdp.jwks };
    const created = await admin("/tenants", { id, frontend: { issuers: [own] } }, "POST", configured.tenants);
    expect(created.status).toBe(201);
    const sim = await createSim();
    const stored = await call(
      configured.tenants,
      CHAT,
      { key: await storedIdp.sign({}), json: chatBody() },
      {},
      sim.baseUrl,
    );
    expect(stored.status).toBe(200);
    const sent = (await sim.stats()).recent.at(-1)?.body as { user_id: string };
    expect(sent.user_id).toBe(await endUserId(env, id, "user-42"));
    const byConfig = await call(
      configured.tenants,
      CHAT,
      { key: await configuredIdp.sign({}), json: chatBody() },
      {},
      sim.baseUrl,
    );
    expect(byConfig.status).toBe(200);
    const viaConfig = (await sim.stats()).recent.at(-1)?.body as { user_id: string };
    expect(viaConfig.user_id).toBe(await endUserId(env, configured.id, "user-42"));
  });

  it("is refused to a second stored tenant, on create and on change, and never stops a tenant being disabled", async () => {
    const issuer = freshIssuer();
    const idp = await provider(issuer, "my-app");
    const pair = { issuer, audience: "my-app", jwks: idp.jwks };
    const first = await storedTenant([pair]);

    const second = `st-${crypto.randomUUID().slice(0, 8)}`;
    const created = await admin("/tenants", { id: second, frontend: { issuers: [pair] } });
    expect(created.status).toBe(409);
    expect((await errorOf(created)).message).toContain(`tenant '${first}'`);
    expect((await admin("/tenants", { id: second })).status).toBe(201);
    const other = { issuer: freshIssuer(), audience: "my-app", jwks: idp.jwks };
    const changed = await admin(`/tenants/${second}`, { frontend: { issuers: [other, pair] } }, "PATCH");
    expect(changed.status).toBe(409);
    expect(await errorOf(changed)).toMatchObject({ param: "frontend.issuers.1" });
    const twice = await admin(`/tenants/${second}`, { frontend: { issuers: [other, other] } }, "PATCH");
    expect(twice.status).toBe(409);
    expect((await errorOf(twice)).message).toContain(`tenant '${second}'`);

    // The first tenant keeps its pair (its own change is no clash), and disabling it holds the pair still.
    expect((await admin(`/tenants/${first}`, { frontend: { issuers: [pair] } }, "PATCH")).status).toBe(200);
    expect((await admin(`/tenants/${first}`, { disabled: true }, "PATCH")).status).toBe(200);
    const whileDisabled = await admin(`/tenants/${second}`, { frontend: { issuers: [pair] } }, "PATCH");
    expect(whileDisabled.status).toBe(409);
    expect((await chat(await idp.sign({}))).status).toBe(401);
  });
});
