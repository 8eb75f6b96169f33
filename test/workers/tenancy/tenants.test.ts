import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keyRegistry } from "../../../src/tenancy/tenant-directory";
import { batchFile, chatLine } from "../batch/support";
import { callWithUpstream, chatBody, errorOf, eventually, openaiClient } from "../helpers";
import { adminCall, REGISTRY_ADMIN_KEY, registryCall } from "./support";

const call = registryCall;
const admin = adminCall;

function freshId(): string {
  return `t-${crypto.randomUUID().slice(0, 8)}`;
}

/** A tenant of the admin API with one managed key. */
async function tenantWithKey(settings: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const id = freshId();
  const created = await admin("/tenants", { json: { id, ...settings } });
  expect(created.status).toBe(201);
  const key = await admin(`/tenants/${id}/keys`, { json: { name: "first" } });
  expect(key.status).toBe(201);
  return { id, key: ((await key.json()) as { key: string }).key };
}

describe("tenants as data", () => {
  it("are created through the admin API and serve their keys' requests, whose spend shows", async () => {
    const { id, key } = await tenantWithKey({ maxPriority: "normal", limits: { usdPerDay: 5 } });
    const answer = await callWithUpstream(env.DEEPSEEK_BASE_URL, "/v1/chat/completions", {
      key,
      json: chatBody(),
    });
    expect(answer.status).toBe(200);

    const usage = (await (await admin(`/tenants/${id}/usage`)).json()) as {
      totals: { requests: number; costUsd: number };
      limits: Array<{ kind: string; limit: number; used: number }>;
    };
    expect(usage.totals.requests).toBe(1);
    expect(usage.totals.costUsd).toBeGreaterThan(0);
    expect(usage.limits).toEqual([expect.objectContaining({ kind: "usd-day", limit: 5 })]);
    // The range is the caller's: a window before the request holds none, and a bad date is a 400.
    const before = (await (await admin(`/tenants/${id}/usage?to=${Date.now() - 3_600_000}`)).json()) as {
      totals: { requests: number };
    };
    expect(before.totals.requests).toBe(0);
    const bad = await admin(`/tenants/${id}/usage?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("from");

    const listed = (await (await admin("/tenants")).json()) as {
      data: Array<{ id: string; source: string; maxPriority: string }>;
    };
    expect(listed.data).toContainEqual(
      expect.objectContaining({ id, source: "admin", maxPriority: "normal" }),
    );
    expect(listed.data).toContainEqual(expect.objectContaining({ id: "acme", source: "config" }));
    expect(JSON.stringify(listed)).not.toMatch(/[0-9a-f]{64}/);
  });

  it("take a change of limits on the next request, and stop all their keys when disabled", async () => {
    const { id, key } = await tenantWithKey();
    const client = openaiClient(key);
    const answer = await client.chat.completions.create({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(answer.choices[0]?.message.content).toBeTruthy();

    const changed = await admin(`/tenants/${id}`, {
      method: "PATCH",
      json: { limits: { models: ["deepseek-v4-pro"] } },
    });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ id, limits: { models: ["deepseek-v4-pro"] } });
    const refused = await call("/v1/chat/completions", {
      key,
      json: chatBody({ model: "deepseek-v4-flash" }),
    });
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).code).toBe("model_not_allowed");

    // null unsets a setting.
    await admin(`/tenants/${id}`, { method: "PATCH", json: { limits: null } });
    expect((await call("/v1/chat/completions", { key, json: chatBody() })).status).toBe(200);

    await admin(`/tenants/${id}`, { method: "PATCH", json: { disabled: true } });
    expect((await call("/v1/chat/completions", { key, json: chatBody() })).status).toBe(401);
    await admin(`/tenants/${id}`, { method: "PATCH", json: { disabled: false } });
    expect((await call("/v1/chat/completions", { key, json: chatBody() })).status).toBe(200);
  });

  it("reach every isolate within the key cache's TTL, not at once", async () => {
    const { id, key } = await tenantWithKey();
    expect((await call("/v1/chat/completions", { key, json: chatBody() }, "2000")).status).toBe(200);
    await admin(`/tenants/${id}`, { method: "PATCH", json: { disabled: true } });
    expect((await call("/v1/chat/completions", { key, json: chatBody() }, "2000")).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await call("/v1/chat/completions", { key, json: chatBody() }, "2000")).status).toBe(401);
  });

  it("leave config pinned: a tenant of ROUTER_TENANTS cannot be created or changed here", async () => {
    const created = await admin("/tenants", { json: { id: "acme" } });
    expect(created.status).toBe(409);
    expect(await errorOf(created)).toMatchObject({ param: "tenant" });
    const changed = await admin("/tenants/acme", { method: "PATCH", json: { disabled: true } });
    expect(changed.status).toBe(409);
    expect((await errorOf(changed)).message).toContain("ROUTER_TENANTS");
    expect(await (await admin("/tenants/acme")).json()).toMatchObject({ id: "acme", source: "config" });
  });

  it("never show a collector's header values, and keep them when a view is written back", async () => {
    const id = freshId();
    const secret = "Bearer collector-secret-xyz";
    const otel = { endpoint: "https://collector.example", headers: { authorization: secret } };
    const created = await admin("/tenants", { json: { id, otel } });
    expect(created.status).toBe(201);
    const viewed = (await (await admin(`/tenants/${id}`)).json()) as { otel: typeof otel };
    expect(viewed.otel).toEqual({ endpoint: otel.endpoint, headers: { authorization: "[REDACTED]" } });
    const listed = await (await admin("/tenants")).text();
    for (const text of [JSON.stringify(await created.json()), listed])
      expect(text).not.toContain("collector-secret");

    // The view, edited and sent back whole: the hidden value stays, a new header is added.
    const edited = { ...viewed.otel, headers: { ...viewed.otel.headers, "x-scope": "team-a" } };
    const patched = await admin(`/tenants/${id}`, { method: "PATCH", json: { otel: edited } });
    expect(patched.status).toBe(200);
    expect(await patched.text()).not.toContain("collector-secret");
    const stored = await keyRegistry(env).getTenant(id);
    expect(stored?.tenant.otel?.headers).toEqual({ authorization: secret, "x-scope": "team-a" });
    // A new value replaces it.
    await admin(`/tenants/${id}`, {
      method: "PATCH",
      json: { otel: { ...otel, headers: { authorization: "Bearer new" } } },
    });
    expect((await keyRegistry(env).getTenant(id))?.tenant.otel?.headers).toEqual({
      authorization: "Bearer new",
    });
  });

  it("refuse a second tenant of one id, and an unknown one is not found", async () => {
    const id = freshId();
    expect((await admin("/tenants", { json: { id } })).status).toBe(201);
    expect((await admin("/tenants", { json: { id } })).status).toBe(409);
    expect((await admin(`/tenants/${freshId()}`)).status).toBe(404);
    expect((await admin(`/tenants/${freshId()}`, { method: "PATCH", json: {} })).status).toBe(404);
  });

  it.each([
    [{ id: "bad id!" }, "id"],
    // Names every object has: as a key of the metrics' plain objects they would reach the prototype.
    [{ id: "__proto__" }, "id"],
    [{ id: "constructor" }, "id"],
    // A path segment every URL parser resolves away: /admin/tenants/.. could never be reached.
    [{ id: ".." }, "id"],
    [{ id: "." }, "id"],
    [{ id: "x", limits: { usdPerDay: -1 } }, "limits.usdPerDay"],
    [{ id: "x", maxPriority: "urgent" }, "maxPriority"],
    [{ id: "x", concurrency: 0 }, "concurrency"],
    [{ id: "x", keys: ["00"] }, null],
    [{ id: "x", cacheScope: "everyone" }, "cacheScope"],
  ])("refuse %j, naming the field", async (body, param) => {
    const response = await admin("/tenants", { json: body });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("invalid_request");
    if (param) expect(error.param).toBe(param);
  });

  it("let a managed tenant's browser origins through preflights", async () => {
    const origin = `https://${freshId()}.example.com`;
    const { id } = await tenantWithKey({ limits: { origins: [origin] } });
    const preflight = await call("/v1/chat/completions", {
      key: null,
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
    await admin(`/tenants/${id}`, { method: "PATCH", json: { disabled: true } });
  });

  it("are the admin's: a tenant's router key is refused", async () => {
    expect((await call("/admin/tenants")).status).toBe(401);
  });

  it("answer no page on another origin: the admin API sends no CORS headers, to a preflight or a call", async () => {
    const origin = "https://elsewhere.example";
    const preflight = await admin("/tenants", {
      key: null,
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("access-control-allow-headers")).toBeNull();
    // Said plainly, not as a key check of another route that blames the wrong key.
    for (const path of ["/admin/tenants", "/metrics", "/metrics/series", "/v1/frontend/tokens"]) {
      const options = await call(path, { key: REGISTRY_ADMIN_KEY, method: "OPTIONS", headers: { origin } });
      expect(options.status, path).toBe(405);
      expect((await errorOf(options)).message, path).toContain("answers no cross-origin requests");
    }
    const listed = await admin("/tenants", { headers: { origin } });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBeNull();
    // The same origin's inference preflight is still answered.
    const inference = await call("/v1/chat/completions", {
      key: null,
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST" },
    });
    expect(inference.status).toBe(204);
  });
});

describe("the console's admin views", () => {
  it("show when a key was last used, a tenant's batches and the alert rules", async () => {
    const { id, key } = await tenantWithKey();
    const before = (await (await admin(`/tenants/${id}/keys`)).json()) as {
      data: Array<{ lastUsedAt: number | null }>;
    };
    expect(before.data[0]?.lastUsedAt).toBeNull();
    expect((await call("/v1/chat/completions", { key, json: chatBody() })).status).toBe(200);
    const after = (await (await admin(`/tenants/${id}/keys`)).json()) as {
      data: Array<{ lastUsedAt: number | null }>;
    };
    expect(after.data[0]?.lastUsedAt).toEqual(expect.any(Number));

    const batches = await admin(`/tenants/${id}/batches`);
    expect(await batches.json()).toMatchObject({ object: "list", data: [] });
    const cancel = await admin(`/tenants/${id}/batches/batch_nope/cancel`, { method: "POST" });
    expect(cancel.status).toBe(404);
    const unknown = await admin("/tenants/no-such-tenant/batches");
    expect(unknown.status).toBe(404);
    expect(await errorOf(unknown)).toMatchObject({ code: "not_found", param: "tenant" });

    const alerts = (await (await admin("/alerts")).json()) as {
      rules: Record<string, number>;
      recent: unknown[];
    };
    expect(alerts.rules).toMatchObject({ errorRate: expect.any(Number), cooldownMs: expect.any(Number) });
    expect(Array.isArray(alerts.recent)).toBe(true);
  });
});

describe("a tenant of the admin API running a batch", () => {
  it("runs its lines as that tenant, and the admin's batch view follows it", async () => {
    const { id, key } = await tenantWithKey();
    const openai = openaiClient(key);
    const lines = [0, 1, 2].map((i) => chatLine(`q-${i}`, `Managed tenant ${i} ${crypto.randomUUID()}`));
    const file = await openai.files.create({ file: batchFile(lines), purpose: "batch" });
    const created = await openai.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { schedule: "now" },
    });
    await eventually(async () => {
      expect((await openai.batches.retrieve(created.id)).status).toBe("completed");
    }, 15_000);
    const view = (await (await admin(`/tenants/${id}/batches`)).json()) as {
      data: Array<{ id: string; status: string; request_counts: { total: number; completed: number } }>;
    };
    expect(view.data).toEqual([
      expect.objectContaining({
        id: created.id,
        status: "completed",
        request_counts: expect.objectContaining({ total: 3, completed: 3 }),
      }),
    ]);
  });
});
