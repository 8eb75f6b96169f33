import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resolveManagedKey } from "../../../src/tenancy/keys";
import { ACME_KEY } from "../../fixtures/tenants";
import { sha256Hex } from "../cache/support";
import { type CallInit, callWithUpstream, chatBody, errorOf } from "../helpers";
import { adminCall, awayFromMinuteEdge, REGISTRY_ADMIN_KEY, registryCall } from "./support";

const call = registryCall;
const admin = adminCall;

interface KeyView {
  id: string;
  tenant: string;
  name: string;
  key?: string;
  disabled: boolean;
  hints: string[];
  limits: Record<string, unknown>;
}

async function createKey(tenant = "acme", body: Record<string, unknown> = { name: "ci" }): Promise<KeyView> {
  const response = await admin(`/tenants/${tenant}/keys`, { method: "POST", json: body });
  expect(response.status).toBe(201);
  return response.json();
}

function chat(key: string, cacheMs?: string): Promise<Response> {
  return call("/v1/chat/completions", { key, json: chatBody() }, cacheMs);
}

describe("managed keys", () => {
  it("live through create, use, rotate with a grace period, disable and delete", async () => {
    const created = await createKey("acme", { name: "batch job" });
    expect(created.key).toMatch(/^sk-rt-[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ tenant: "acme", name: "batch job", disabled: false });
    expect(created.hints).toEqual([`sk-rt-…${created.key?.slice(-4)}`]);
    const first = created.key as string;
    expect((await chat(first)).status).toBe(200);

    // The secret is shown once: the list and the key's own view never carry it.
    const listed = await (await admin("/tenants/acme/keys")).text();
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(first);

    const rotated = (await (
      await admin(`/tenants/acme/keys/${created.id}/rotate`, { method: "POST", json: { graceSeconds: 60 } })
    ).json()) as KeyView;
    const second = rotated.key as string;
    expect(second).not.toBe(first);
    expect(rotated.hints).toHaveLength(2);
    expect((await chat(first)).status).toBe(200);
    expect((await chat(second)).status).toBe(200);

    await admin(`/tenants/acme/keys/${created.id}/rotate`, { method: "POST" });
    expect((await chat(second)).status).toBe(401);

    const disabled = await admin(`/tenants/acme/keys/${created.id}`, {
      method: "PATCH",
      json: { disabled: true },
    });
    expect(await disabled.json()).toMatchObject({ disabled: true });
    expect((await chat(first)).status).toBe(401);

    const deleted = await admin(`/tenants/acme/keys/${created.id}`, { method: "DELETE" });
    expect(await deleted.json()).toEqual({ id: created.id, object: "key", deleted: true });
    expect((await admin(`/tenants/acme/keys/${created.id}`)).status).toBe(404);
  });

  it("stops a disabled key within the key cache's TTL, not at once", async () => {
    const created = await createKey();
    const key = created.key as string;
    expect((await chat(key, "2000")).status).toBe(200);
    await admin(`/tenants/acme/keys/${created.id}`, { method: "PATCH", json: { disabled: true } });
    expect((await chat(key, "2000")).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const refused = await chat(key, "2000");
    expect(refused.status).toBe(401);
    expect((await errorOf(refused)).code).toBe("unauthorized");
  });

  it("keeps tenants apart: another tenant's key id is not found, to read, change or delete", async () => {
    const acmeKey = await createKey("acme");
    for (const init of [
      {},
      { method: "PATCH", json: { disabled: true } },
      { method: "DELETE" },
    ] as CallInit[]) {
      const response = await admin(`/tenants/globex/keys/${acmeKey.id}`, init);
      expect(response.status).toBe(404);
    }
    const globexList = (await (await admin("/tenants/globex/keys")).json()) as { data: KeyView[] };
    expect(globexList.data.map((key) => key.id)).not.toContain(acmeKey.id);
    expect((await chat(acmeKey.key as string)).status).toBe(200);
  });

  it("is the admin's API: a tenant's router key is refused", async () => {
    const response = await call("/admin/tenants/acme/keys", { key: ACME_KEY });
    expect(response.status).toBe(401);
  });

  it("refuses limits above the tenant's, naming the field", async () => {
    const tenants = JSON.stringify([
      { id: "capped", keys: [await sha256Hex("sk-router-capped-000000000000000")], limits: { usdPerDay: 5 } },
    ]);
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/admin/tenants/capped/keys",
      { key: REGISTRY_ADMIN_KEY, json: { name: "too much", limits: { usdPerDay: 50 } } },
      { ROUTER_ADMIN_KEY: await sha256Hex(REGISTRY_ADMIN_KEY), ROUTER_TENANTS: tenants },
    );
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_request", param: "limits.usdPerDay" });
  });

  it.each([
    [
      "/tenants/acme/keys",
      { method: "POST", body: "{not json", headers: { "content-type": "application/json" } },
      400,
      "invalid_json",
    ],
    ["/tenants/acme/keys", { json: [] }, 400, "invalid_request"],
    ["/tenants/acme/keys", { json: { name: "" } }, 400, "invalid_request"],
    ["/tenants/acme/keys", { json: { name: "x".repeat(65) } }, 400, "invalid_request"],
    ["/tenants/acme/keys", { json: { name: "<script>" } }, 400, "invalid_request"],
    ["/tenants/acme/keys", { json: { name: "ok", tenant: "globex" } }, 400, "invalid_request"],
    [
      "/tenants/acme/keys",
      { json: { name: "ok", limits: { requestsPerMinute: -1 } } },
      400,
      "invalid_request",
    ],
    [
      "/tenants/acme/keys",
      { json: { name: "ok", limits: { origins: ["javascript:alert(1)"] } } },
      400,
      "invalid_request",
    ],
    ["/tenants/acme/keys", { json: { name: "ok", limits: { lease: 0.1 } } }, 400, "invalid_request"],
    ["/tenants/initech/keys", { json: { name: "ok" } }, 404, "not_found"],
    ["/tenants/acme/keys/../../cache/shared", {}, 404, "not_found"],
    ["/tenants/acme/keys/key_'%20OR%201=1", {}, 400, "invalid_request"],
    [
      "/tenants/acme/keys/key_00000000000000000000000000000000/rotate",
      { json: { graceSeconds: 1e9 } },
      400,
      "invalid_request",
    ],
  ] as Array<[string, CallInit, number, string]>)(
    "answers %s hostile input in the error envelope",
    async (path, init, status, code) => {
      const response = await admin(path, init);
      expect(response.status).toBe(status);
      const error = await errorOf(response);
      expect(error.code).toBe(code);
    },
  );

  it("does not take a random bearer token to the registry, and refuses it", async () => {
    const response = await chat("sk-rt-not-a-real-key");
    expect(response.status).toBe(401);
  });
});

describe("this isolate's memory of keys", () => {
  it("keeps a key in use while a flood of made-up keys comes and goes", async () => {
    const created = await createKey("acme", { name: "in use" });
    const secret = created.key as string;
    const now = Date.now();
    const ttlMs = 60_000;
    expect(await resolveManagedKey(env.KEY_REGISTRY, secret, now, ttlMs)).toMatchObject({ id: created.id });
    // More unknown keys than the memory holds: each costs its registry call, and none evicts the key.
    for (let i = 0; i < 4_200; i += 100) {
      const made = Array.from({ length: 100 }, (_, j) => `sk-rt-${String(i + j).padStart(43, "x")}`);
      const grants = await Promise.all(
        made.map((key) => resolveManagedKey(env.KEY_REGISTRY, key, now, ttlMs)),
      );
      expect(grants.every((grant) => grant === null)).toBe(true);
    }
    // Deleted in the registry, the key still resolves from memory until its TTL: it was not pushed out.
    expect((await admin(`/tenants/acme/keys/${created.id}`, { method: "DELETE" })).status).toBe(200);
    expect(await resolveManagedKey(env.KEY_REGISTRY, secret, now + 1, ttlMs)).toMatchObject({
      id: created.id,
    });
  });
});

/**
 * The rate limit counts in wall-clock minutes, so each test first waits out a minute's last 15 s (and
 * may take up to a minute) to see one window.
 */
describe("a flood of made-up managed keys", () => {
  /** A chat request with `key` from `address`, as Cloudflare names the caller; keys are remembered a minute. */
  const from = (address: string, key: string) =>
    call(
      "/v1/chat/completions",
      { key, json: chatBody(), headers: { "cf-connecting-ip": address } },
      "60000",
    );
  const madeUp = (i: number) =>
    `sk-rt-${crypto.randomUUID().replaceAll("-", "")}${String(i).padStart(11, "0")}`;

  it("refuses an address past its allowance without a registry call, and no one else", async () => {
    await awayFromMinuteEdge(15_000);
    const flooder = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const other = `203.0.113.${Math.floor(Math.random() * 250)}`;
    const known = (await createKey("acme", { name: "known" })).key as string;
    expect((await from(flooder, known)).status).toBe(200);
    const fresh = (await createKey("acme", { name: "fresh" })).key as string;
    // wrangler.toml allows 60 unknown keys a minute per address: each is looked up and refused, and
    // the one past them is the last the registry sees from there.
    for (let i = 0; i <= 60; i++) expect((await from(flooder, madeUp(i))).status).toBe(401);

    const refused = await from(flooder, madeUp(61));
    expect(refused.status).toBe(429);
    const seconds = Number(refused.headers.get("retry-after"));
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(await errorOf(refused)).toMatchObject({ type: "rate_limit_error", code: "rate_limited" });
    // Not looked up: a valid key this isolate has not resolved yet is refused from that address too.
    expect((await from(flooder, fresh)).status).toBe(429);
    // A key the isolate knows still works from there, and other addresses are served as before.
    expect((await from(flooder, known)).status).toBe(200);
    expect((await from(other, fresh)).status).toBe(200);
    expect((await from(other, madeUp(62))).status).toBe(401);
  }, 60_000);

  it("still refreshes a key the isolate resolved before, once its memory expires, for a flooding address", async () => {
    await awayFromMinuteEdge(15_000);
    const caller = {
      address: `192.0.2.${Math.floor(Math.random() * 250)}`,
      unknownKeys: env.KEY_FAILURE_RATE_LIMIT,
    };
    const ttlMs = 10_000;
    const now = Date.now();
    const known = (await createKey("acme", { name: "refreshed" })).key as string;
    const never = (await createKey("acme", { name: "never seen" })).key as string;
    expect(await resolveManagedKey(env.KEY_REGISTRY, known, now, ttlMs, caller)).not.toBeNull();
    for (let i = 0; i <= 60; i++)
      await resolveManagedKey(env.KEY_REGISTRY, madeUp(100 + i), now, ttlMs, caller);

    const later = now + ttlMs + 1;
    await expect(resolveManagedKey(env.KEY_REGISTRY, never, later, ttlMs, caller)).rejects.toMatchObject({
      status: 429,
    });
    expect(await resolveManagedKey(env.KEY_REGISTRY, known, later, ttlMs, caller)).not.toBeNull();
  }, 60_000);
});
