import { describe, expect, it } from "vitest";
import { chatBody, createSim, errorOf } from "../helpers";
import { ADMIN_KEY, call, frontendTenant, mint } from "./support";

const CHAT = "/v1/chat/completions";
const REVOKE = "/v1/frontend/tokens/revoke";

/** A tenant with a managed key that may mint. */
async function managedMinter() {
  const { id, tenants } = await frontendTenant({ mint: false });
  const created = await call(tenants, `/admin/tenants/${id}/keys`, {
    key: ADMIN_KEY,
    json: { name: "backend", capabilities: ["mint"] },
  });
  const key = (await created.json()) as { id: string; key: string };
  return { id, tenants, keyId: key.id, key: key.key };
}

async function refusedWith(response: Response, text: string): Promise<void> {
  expect(response.status).toBe(401);
  expect((await errorOf(response)).message).toContain(text);
}

describe("revoking frontend tokens", () => {
  it("revokes one end user's tokens, not another's, and not the user's next token", async () => {
    const { key, tenants } = await frontendTenant();
    const alice = await mint(tenants, key, { sub: "alice" });
    const bob = await mint(tenants, key, { sub: "bob" });
    const revoked = await call(tenants, REVOKE, { key, json: { sub: "alice" } });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ object: "frontend.revocation", propagation_seconds: 0 });
    await refusedWith(
      await call(tenants, CHAT, { key: alice, json: chatBody() }),
      "end user's tokens were revoked",
    );
    expect((await call(tenants, CHAT, { key: bob, json: chatBody() })).status).toBe(200);
    const again = await mint(tenants, key, { sub: "alice" });
    expect((await call(tenants, CHAT, { key: again, json: chatBody() })).status).toBe(200);
  });

  it("ends a managed key's tokens when the key is disabled, deleted or rotated, or its tokens revoked", async () => {
    const { id, tenants, keyId, key } = await managedMinter();
    const admin = (path: string, init: Record<string, unknown>) =>
      call(tenants, `/admin/tenants/${id}/keys/${keyId}${path}`, { key: ADMIN_KEY, ...init });
    const token = await mint(tenants, key, { sub: "alice" });
    expect((await call(tenants, CHAT, { key: token, json: chatBody() })).status).toBe(200);

    await admin("", { method: "PATCH", json: { disabled: true } });
    await refusedWith(await call(tenants, CHAT, { key: token, json: chatBody() }), "disabled or deleted");
    await admin("", { method: "PATCH", json: { disabled: false } });
    expect((await call(tenants, CHAT, { key: token, json: chatBody() })).status).toBe(200);

    const rotated = (await (await admin("/rotate", { method: "POST", json: {} })).json()) as { key: string };
    await refusedWith(await call(tenants, CHAT, { key: token, json: chatBody() }), "revoked");
    const fresh = await mint(tenants, rotated.key, { sub: "alice" });
    expect((await call(tenants, CHAT, { key: fresh, json: chatBody() })).status).toBe(200);

    const all = await call(tenants, REVOKE, { key: rotated.key, json: {} });
    expect(await all.json()).toMatchObject({ key: keyId });
    await refusedWith(await call(tenants, CHAT, { key: fresh, json: chatBody() }), "revoked");
    // The key itself keeps working.
    expect((await call(tenants, CHAT, { key: rotated.key, json: chatBody() })).status).toBe(200);

    await admin("", { method: "DELETE" });
    const late = await mint(tenants, rotated.key, { sub: "bob" }).catch(() => undefined);
    expect(late).toBeUndefined();
  });

  it("refuses a truncated revocation body instead of revoking every token of the key", async () => {
    const { tenants, key } = await managedMinter();
    const token = await mint(tenants, key, { sub: "alice" });
    const truncated = await call(tenants, REVOKE, {
      key,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"sub": "bob',
    });
    expect(truncated.status).toBe(400);
    expect((await errorOf(truncated)).code).toBe("invalid_json");
    expect((await call(tenants, CHAT, { key: token, json: chatBody() })).status).toBe(200);
    // No body at all still means every token of the key.
    const all = await call(tenants, REVOKE, { key, method: "POST" });
    expect(all.status).toBe(200);
    await refusedWith(await call(tenants, CHAT, { key: token, json: chatBody() }), "revoked");
  });

  it("ends a configured key's tokens when the key leaves ROUTER_TENANTS", async () => {
    const { id, key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "alice" });
    const rotatedOut = JSON.parse(tenants) as Array<{ id: string; keys: string[] }>;
    const mine = rotatedOut.find((tenant) => tenant.id === id);
    if (mine) mine.keys = ["0".repeat(64)];
    await refusedWith(
      await call(JSON.stringify(rotatedOut), CHAT, { key: token, json: chatBody() }),
      "no longer configured",
    );
  });

  it("holds what it learned for the key cache's TTL: the stated bound, not instant everywhere", async () => {
    const { key, tenants } = await frontendTenant();
    const cached = { ROUTER_KEY_CACHE_MS: "60000" };
    const token = await mint(tenants, key, { sub: "mallory" });
    expect((await call(tenants, CHAT, { key: token, json: chatBody() }, cached)).status).toBe(200);
    await call(tenants, REVOKE, { key, json: { sub: "mallory" } });
    // This isolate learned the tenant's standing before the revocation: it holds it for up to 60 s.
    expect((await call(tenants, CHAT, { key: token, json: chatBody() }, cached)).status).toBe(200);
    await refusedWith(await call(tenants, CHAT, { key: token, json: chatBody() }), "revoked");
  });

  it("lets a stream that already started finish after its user is revoked", async () => {
    const sim = await createSim({ tokensPerS: 200, minAnswerTokens: 40, maxAnswerTokens: 40 });
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "nina" });
    const stream = await call(
      tenants,
      CHAT,
      { key: token, json: chatBody({ stream: true }) },
      {},
      sim.baseUrl,
    );
    expect(stream.status).toBe(200);
    await call(tenants, REVOKE, { key, json: { sub: "nina" } });
    expect(await stream.text()).toContain("[DONE]");
    const next = await call(tenants, CHAT, { key: token, json: chatBody() }, {}, sim.baseUrl);
    await refusedWith(next, "revoked");
  });
});
