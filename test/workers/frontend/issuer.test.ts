import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../cache/support";
import { chatBody, createSim, errorOf } from "../helpers";
import { call, jwksFetches, provider, STUB, servedJwks } from "./support";

const ISSUER = "https://login.example.test";
const AUDIENCE = "my-app";

/** A tenant trusting `issuer`, with no key of its own used here. */
async function issuerTenant(issuer: Record<string, unknown>): Promise<{ id: string; tenants: string }> {
  const id = `idp-${crypto.randomUUID().slice(0, 8)}`;
  const base = JSON.parse(env.ROUTER_TENANTS) as unknown[];
  const tenant = {
    id,
    keys: [await sha256Hex(`sk-router-${id}-000000000000`)],
    frontend: { issuers: [{ issuer: ISSUER, audience: AUDIENCE, ...issuer }] },
  };
  return { id, tenants: JSON.stringify([...base, tenant]) };
}

describe("a tenant's own login tokens (bring your own issuer)", () => {
  it("verifies against a JWKS served by URL, fetched once per isolate and then held by kid", async () => {
    const sim = await createSim();
    const idp = await provider(ISSUER, AUDIENCE);
    const { name, url } = await servedJwks(idp.jwks);
    const { tenants } = await issuerTenant({ jwksUrl: url, algorithms: ["ES256"] });
    for (const sub of ["user-42", "user-43", "user-42"]) {
      const token = await idp.sign({ sub });
      const response = await call(
        tenants,
        "/v1/chat/completions",
        { key: token, json: chatBody({ user: sub }) },
        {},
        sim.baseUrl,
      );
      expect(response.status).toBe(200);
    }
    expect(await jwksFetches(name)).toBe(1);
    const sent = (await sim.stats()).recent.map((r) => (r.body as { user_id: string }).user_id);
    expect(sent[0]).toMatch(/^u_/);
    expect(sent[2]).toBe(sent[0]);
    expect(sent[1]).not.toBe(sent[0]);
    expect(JSON.stringify(sent)).not.toContain("user-4");
  });

  it("refuses a wrong audience, an unknown kid, an HS256 token and a missing end-user claim", async () => {
    const sim = await createSim();
    const idp = await provider(ISSUER, AUDIENCE);
    const { tenants } = await issuerTenant({ jwks: idp.jwks, algorithms: ["ES256"], userClaim: "uid" });
    const now = Math.floor(Date.now() / 1000);
    const hmac = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, uid: "u1", exp: now + 300 })
      .setProtectedHeader({ alg: "HS256", kid: idp.kid })
      .sign(new TextEncoder().encode("a shared secret the router must never accept"));
    const cases: Array<[string, string, string]> = [
      ["wrong aud", await idp.sign({ uid: "u1", aud: "another-app" }), "audience"],
      ["unknown kid", await idp.sign({ uid: "u1" }, { kid: "rotated-away" }), "no key"],
      ["HS256", hmac, "HS256"],
      ["no uid", await idp.sign({}), "uid"],
      ["expired", await idp.sign({ uid: "u1", iat: now - 900, exp: now - 60 }), "expired"],
    ];
    for (const [label, token, reason] of cases) {
      const response = await call(
        tenants,
        "/v1/chat/completions",
        { key: token, json: chatBody() },
        {},
        sim.baseUrl,
      );
      expect(response.status, label).toBe(401);
      expect((await errorOf(response)).message, label).toContain(reason);
    }
    expect((await sim.stats()).requests).toBe(0);
    const good = await idp.sign({ uid: "u1" });
    expect(
      (await call(tenants, "/v1/chat/completions", { key: good, json: chatBody() }, {}, sim.baseUrl)).status,
    ).toBe(200);
    // Signed on another machine's clock: 30 s of skew on exp, where the router's own tokens get 2 s.
    const justExpired = await idp.sign({ uid: "u1", iat: now - 900, exp: now - 10 });
    expect(
      (await call(tenants, "/v1/chat/completions", { key: justExpired, json: chatBody() }, {}, sim.baseUrl))
        .status,
    ).toBe(200);
  });

  it("accepts a token no longer than maxTokenAgeSeconds after its iat, whatever its exp", async () => {
    const sim = await createSim();
    const idp = await provider(ISSUER, AUDIENCE);
    const now = Math.floor(Date.now() / 1000);
    const decade = now + 10 * 365 * 86_400;
    const chat = async (tenants: string, token: string) =>
      call(tenants, "/v1/chat/completions", { key: token, json: chatBody() }, {}, sim.baseUrl);

    const byDefault = await issuerTenant({ jwks: idp.jwks, algorithms: ["ES256"] });
    expect((await chat(byDefault.tenants, await idp.sign({ exp: decade }))).status).toBe(200);
    const dayOld = await chat(byDefault.tenants, await idp.sign({ iat: now - 86_400 - 120, exp: decade }));
    expect(dayOld.status).toBe(401);
    expect((await errorOf(dayOld)).message).toContain("maxTokenAgeSeconds");
    const noIat = await chat(byDefault.tenants, await idp.sign({ iat: undefined, exp: decade }));
    expect(noIat.status).toBe(401);
    expect((await errorOf(noIat)).message).toContain("iat");

    const hourly = await issuerTenant({ jwks: idp.jwks, algorithms: ["ES256"], maxTokenAgeSeconds: 3600 });
    expect((await chat(hourly.tenants, await idp.sign({ iat: now - 1800 }))).status).toBe(200);
    expect((await chat(hourly.tenants, await idp.sign({ iat: now - 7200, exp: now + 300 }))).status).toBe(
      401,
    );
  });

  it("rejects a jwksUrl over plain http to another host", async () => {
    const plain = await issuerTenant({ jwksUrl: "http://idp.example/.well-known/jwks.json" });
    const response = await call(plain.tenants, "/healthz", { key: null });
    expect(response.status).toBe(503);
    expect(JSON.stringify(await response.json())).toContain("jwksUrl must be https");
  });

  it("rejects a tenant configuration giving both or neither of jwks and jwksUrl", async () => {
    const both = await issuerTenant({ jwks: { keys: [{ kty: "EC" }] }, jwksUrl: `${STUB}/jwks/x` });
    const response = await call(both.tenants, "/healthz", { key: null });
    expect(response.status).toBe(503);
    expect(JSON.stringify(await response.json())).toContain("exactly one of jwks and jwksUrl");
  });
});
