import { env } from "cloudflare:workers";
import type { APIError } from "openai";
import { describe, expect, it } from "vitest";
import { clientWith } from "../owner/support";
import { ADMIN_KEY, call, mint } from "./support";

const MODEL = "deepseek-v4-flash";

/**
 * An end user reads, continues and deletes only the Responses kept under their own tokens; anyone
 * else's is not found, as an id of another tenant is. A server key reaches any of its tenant's.
 */
describe("previous_response_id with a frontend token", () => {
  it("continues, reads and deletes the end user's own Response, and no one else's", async () => {
    // A tenant of the admin API: kept Responses run in their owner object, which reads stored tenants.
    const tenants = env.ROUTER_TENANTS;
    const id = `fe-${crypto.randomUUID().slice(0, 8)}`;
    const created = await call(tenants, "/admin/tenants", {
      key: ADMIN_KEY,
      json: { id, frontend: { mint: true } },
    });
    expect(created.status).toBe(201);
    const keyed = await call(tenants, `/admin/tenants/${id}/keys`, {
      key: ADMIN_KEY,
      json: { name: "backend", capabilities: ["mint"] },
    });
    const { key } = (await keyed.json()) as { key: string };
    const vars = { ROUTER_KEY_CACHE_MS: "0" };
    const server = clientWith(env.DEEPSEEK_BASE_URL, vars, key);
    const alice = clientWith(env.DEEPSEEK_BASE_URL, vars, await mint(tenants, key, { sub: "alice" }));
    const mallory = clientWith(env.DEEPSEEK_BASE_URL, vars, await mint(tenants, key, { sub: "mallory" }));

    const kept = await server.responses.create({
      model: MODEL,
      input: "The vault code is 4711.",
      store: true,
    });
    const fromServer = await mallory.responses
      .create({ model: MODEL, input: "What is the code?", previous_response_id: kept.id })
      .catch((error: APIError) => error);
    expect((fromServer as APIError).status).toBe(400);
    expect((fromServer as APIError).param).toBe("previous_response_id");

    const own = await alice.responses.create({ model: MODEL, input: "My name is Alice.", store: true });
    const fromAlice = await mallory.responses
      .create({ model: MODEL, input: "What is my name?", previous_response_id: own.id })
      .catch((error: APIError) => error);
    expect((fromAlice as APIError).status).toBe(400);

    // A later token of the same end user continues it; so does the tenant's server key.
    const aliceLater = clientWith(env.DEEPSEEK_BASE_URL, vars, await mint(tenants, key, { sub: "alice" }));
    const next = await aliceLater.responses.create({
      model: MODEL,
      input: "And?",
      previous_response_id: own.id,
    });
    expect(next.status).toBe("completed");
    const byServer = await server.responses.create({
      model: MODEL,
      input: "And?",
      previous_response_id: own.id,
    });
    expect(byServer.status).toBe("completed");

    // Read back, listed and deleted by its own end user only.
    expect((await aliceLater.responses.retrieve(own.id)).status).toBe("completed");
    const items = await aliceLater.responses.inputItems.list(own.id);
    expect(JSON.stringify(items.data)).toContain("My name is Alice.");
    for (const attempt of [
      mallory.responses.retrieve(own.id),
      mallory.responses.inputItems.list(own.id),
      mallory.responses.delete(own.id),
      alice.responses.retrieve(kept.id),
    ]) {
      expect(((await attempt.catch((error: APIError) => error)) as APIError).status).toBe(404);
    }
    expect((await server.responses.retrieve(own.id)).id).toBe(own.id);
    await alice.responses.delete(own.id);
    expect(
      ((await server.responses.retrieve(own.id).catch((error: APIError) => error)) as APIError).status,
    ).toBe(404);
    expect((await server.responses.retrieve(kept.id)).id).toBe(kept.id);

    // A background Response is read back by id, with a server key only: a page cannot ask for one.
    const background = await alice.responses
      .create({ model: MODEL, input: "Later.", background: true })
      .catch((error: APIError) => error);
    expect((background as APIError).status).toBe(403);
    expect((background as APIError).code).toBe("frontend_token_not_allowed");
    expect((background as APIError).param).toBe("background");
  });
});
