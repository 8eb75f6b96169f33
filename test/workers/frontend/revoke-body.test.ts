import { describe, expect, it } from "vitest";
import { chatBody, errorOf } from "../helpers";
import { ADMIN_KEY, call, frontendTenant, mint } from "./support";

const CHAT = "/v1/chat/completions";
const REVOKE = "/v1/frontend/tokens/revoke";

/**
 * `{}` revokes every token of the calling key; `{"sub"}` one end user's. A body that is not JSON (a
 * truncated `{"sub": …`) is a 400 that revokes nothing, never read as `{}`.
 */
describe("the revoke endpoint's body", () => {
  it("refuses a body that is not JSON, and revokes nothing", async () => {
    const { id, tenants } = await frontendTenant({ mint: false });
    const created = await call(tenants, `/admin/tenants/${id}/keys`, {
      key: ADMIN_KEY,
      json: { name: "backend", capabilities: ["mint"] },
    });
    const { key } = (await created.json()) as { key: string };
    const alice = await mint(tenants, key, { sub: "alice" });
    const bob = await mint(tenants, key, { sub: "bob" });
    for (const body of ['{"sub": "alice"', "sub=alice", "null", "[]"]) {
      const refused = await call(tenants, REVOKE, {
        key,
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
      expect(refused.status, body).toBe(400);
      expect((await errorOf(refused)).code, body).toMatch(/^invalid_(json|request)$/);
    }
    expect((await call(tenants, CHAT, { key: alice, json: chatBody() })).status).toBe(200);
    expect((await call(tenants, CHAT, { key: bob, json: chatBody() })).status).toBe(200);
  });
});
