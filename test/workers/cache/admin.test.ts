import { beforeAll, describe, expect, it } from "vitest";
import type { CacheCounters } from "../../../src/cache/stats";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { type CallInit, callWithUpstream, chatBody, createSim, errorOf, type SimInstance } from "../helpers";
import { sha256Hex, storedFrom, uniquePrompt } from "./support";

const CHAT = "/v1/chat/completions";
const ADMIN_KEY = "sk-admin-test-0000000000000000";

let sim: SimInstance;
let adminDigest: string;

beforeAll(async () => {
  sim = await createSim({ ttftMs: 50, tokensPerS: 400 });
  adminDigest = await sha256Hex(ADMIN_KEY);
});

function admin(path: string, init: CallInit = {}): Promise<Response> {
  return callWithUpstream(
    sim.baseUrl,
    `/admin/cache${path}`,
    { key: ADMIN_KEY, ...init },
    { ROUTER_ADMIN_KEY: adminDigest },
  );
}

async function stats(query = ""): Promise<{ total: CacheCounters; tenants: Record<string, CacheCounters> }> {
  const response = await admin(`/stats${query}`);
  expect(response.status).toBe(200);
  return response.json();
}

function deterministic(): Record<string, unknown> {
  return chatBody({ temperature: 0, messages: [{ role: "user", content: uniquePrompt() }] });
}

async function ask(body: Record<string, unknown>, init: CallInit = {}): Promise<Response> {
  const response = await sim.call(CHAT, { json: body, ...init });
  await response.clone().text();
  return response;
}

describe("admin API access", () => {
  it("does not exist unless ROUTER_ADMIN_KEY is configured", async () => {
    const response = await sim.call("/admin/cache/stats", { key: ADMIN_KEY });
    expect(response.status).toBe(404);
  });

  it("answers 401 to a missing or wrong key, a tenant's router key included", async () => {
    for (const key of [null, "sk-admin-wrong", undefined]) {
      const response = await admin("/stats", key === undefined ? { key: undefined } : { key });
      expect(response.status).toBe(401);
      expect((await errorOf(response)).code).toBe("unauthorized");
    }
  });
});

describe("cache statistics", () => {
  it("count hits, misses, bypasses, coalesced answers, bytes and saved USD per tenant", async () => {
    const before = await stats();
    const body = deterministic();
    const miss = await ask({ ...body, stream: true });
    await storedFrom(miss);
    const hit = await ask(body);
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    await ask({ ...body, temperature: 1 });
    const shared = deterministic();
    await Promise.all([ask({ ...shared, stream: true }), ask({ ...shared, stream: true })]);
    await ask(deterministic(), { key: GLOBEX_KEY });

    const after = await stats();
    const acme = after.tenants.acme!;
    const was = before.tenants.acme!;
    expect(acme.hits - was.hits).toBe(1);
    expect(acme.misses - was.misses).toBe(2);
    expect(acme.bypasses - was.bypasses).toBe(1);
    expect(acme.coalesced - was.coalesced).toBe(1);
    expect(acme.stores - was.stores).toBeGreaterThanOrEqual(1);
    expect(acme.bytesStored - was.bytesStored).toBeGreaterThan(0);
    expect(acme.bytesServed - was.bytesServed).toBeGreaterThan(0);
    const savedOnHit = Number(hit.headers.get("x-router-saved-usd"));
    expect(acme.savedUsd - was.savedUsd).toBeGreaterThan(savedOnHit);
    expect(after.tenants.globex!.misses - before.tenants.globex!.misses).toBe(1);
    expect(after.total.misses - before.total.misses).toBe(3);

    const one = await stats("?tenant=globex");
    expect(Object.keys(one.tenants)).toEqual(["globex"]);
    expect((await admin("/stats?tenant=nobody")).status).toBe(404);
  });
});

describe("purge", () => {
  it("by key: the entry named by x-router-cache-key is gone", async () => {
    const body = deterministic();
    const first = await ask(body);
    const key = first.headers.get("x-router-cache-key")!;
    expect((await ask(body)).headers.get("x-router-cache")).toBe("HIT");

    const purged = await admin(`/entries/${key}`, { method: "DELETE" });
    expect(await purged.json()).toEqual({ key, deleted: true });
    expect((await ask(body)).headers.get("x-router-cache")).toBe("MISS");

    const malformed = await admin("/entries/not-a-key", { method: "DELETE" });
    expect(malformed.status).toBe(400);
  });

  it("by tenant: that tenant's entries are gone, another tenant's stay", async () => {
    const mine = [deterministic(), deterministic()];
    const theirs = deterministic();
    for (const body of mine) await ask(body);
    await ask(theirs, { key: GLOBEX_KEY });

    const purged = await admin("/tenants/acme", { method: "DELETE" });
    const result = (await purged.json()) as { scope: string; deleted: number; more: boolean };
    expect(result.scope).toBe("tenant:acme");
    expect(result.deleted).toBeGreaterThanOrEqual(2);
    expect(result.more).toBe(false);

    for (const body of mine) expect((await ask(body)).headers.get("x-router-cache")).toBe("MISS");
    expect((await ask(theirs, { key: GLOBEX_KEY })).headers.get("x-router-cache")).toBe("HIT");
  });
});
