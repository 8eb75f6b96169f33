import { createHash } from "node:crypto";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routerWorker } from "../../../scripts/build";
import { LOCAL_FRONTEND_SIGNING_KEY, LOCAL_UPSTREAM_KEY } from "../../../scripts/local-config";
import { startSimServer } from "../../../sim/node";

/**
 * Four router Workers, each its own isolate with its own spend holders, sharing one set of Durable
 * Objects (the first Worker's) as a fleet shares them: many concurrent callers spread over the four
 * must never be admitted past a requests-per-minute limit — a tenant's, a managed key's, or one end
 * user's of a frontend token — since requests are reserved exactly, leases or not. With `lease: 0` the
 * limit is met exactly; with leases, spare parked in blocks may refuse some requests early (never late).
 */
const WORKERS = 4;
const LIMIT = 40;
const CALLERS_PER_WORKER = 24;
const TENANT_KEY = "sk-fleet-tenant-00000000000000";
const USERS_KEY = "sk-fleet-users-000000000000000";
const KEYS_KEY = "sk-fleet-keys-0000000000000000";
const ADMIN_KEY = "sk-fleet-admin-00000000000000";

const digest = (key: string) => createHash("sha256").update(key).digest("hex");
const EXACT_KEY = "sk-fleet-exact-000000000000000";
const TENANTS = JSON.stringify([
  { id: "fleet-tenant", keys: [digest(TENANT_KEY)], limits: { requestsPerMinute: LIMIT } },
  { id: "fleet-exact", keys: [digest(EXACT_KEY)], limits: { requestsPerMinute: LIMIT, lease: 0 } },
  {
    id: "fleet-users",
    keys: [digest(USERS_KEY)],
    limits: { lease: 0 },
    frontend: { mint: true, perUser: { requestsPerMinute: LIMIT } },
  },
  { id: "fleet-keys", keys: [digest(KEYS_KEY)] },
]);

let mf: Miniflare;
let urls: string[] = [];
let closeSim: () => Promise<void>;

beforeAll(async () => {
  const sim = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
  closeSim = () => sim.close();
  const bindings = {
    DEEPSEEK_BASE_URL: sim.url,
    DEEPSEEK_API_KEY: LOCAL_UPSTREAM_KEY,
    ROUTER_TENANTS: TENANTS,
    FRONTEND_SIGNING_KEY: LOCAL_FRONTEND_SIGNING_KEY,
    ROUTER_ADMIN_KEY: digest(ADMIN_KEY),
  };
  const first = routerWorker({ bindings, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] });
  const shared = Object.fromEntries(
    Object.entries(first.durableObjects ?? {}).map(([name, spec]) => [
      name,
      { className: typeof spec === "string" ? spec : spec.className, scriptName: "router" },
    ]),
  );
  const others: V4WorkerOptions[] = Array.from({ length: WORKERS - 1 }, (_, i) => ({
    ...first,
    name: `router-${i + 1}`,
    durableObjects: shared,
    queueConsumers: undefined,
  }));
  mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [first, ...others],
      log: new Log(LogLevel.WARN),
      host: "127.0.0.1",
      port: 0,
      cf: false,
      handleStructuredLogs: () => {},
    }),
  );
  await mf.ready;
  urls = await Promise.all(
    ["router", ...others.map((w) => w.name as string)].map(async (name) =>
      (await mf.unsafeGetDirectURL(name)).toString().replace(/\/$/, ""),
    ),
  );
}, 180_000);

afterAll(async () => {
  await mf?.dispose();
  await closeSim?.();
});

/** Waits out the last seconds of a UTC minute, so the burst falls in one window. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** `CALLERS_PER_WORKER` concurrent chats through each Worker with `key`; the statuses. */
async function burst(key: string): Promise<number[]> {
  const calls = urls.flatMap((url) =>
    Array.from({ length: CALLERS_PER_WORKER }, () =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "deepseek-v4-flash",
          max_tokens: 16,
          thinking: { type: "disabled" },
          messages: [{ role: "user", content: "fleet" }],
        }),
      }).then(async (response) => {
        const text = await response.text();
        // Every refusal must be the limit's, not some other 429 or error.
        if (response.status !== 200) expect(text).toContain("requests_per_minute_exceeded");
        return response.status;
      }),
    ),
  );
  return Promise.all(calls);
}

function count(statuses: number[], status: number): number {
  return statuses.filter((s) => s === status).length;
}

describe("limits across four router Workers sharing one set of Durable Objects", () => {
  it("never admits past the tenant's requests per minute, whichever Worker each caller reaches", async () => {
    await awayFromMinuteEdge();
    const statuses = await burst(TENANT_KEY);
    expect(count(statuses, 200)).toBeGreaterThan(0);
    expect(count(statuses, 200)).toBeLessThanOrEqual(LIMIT);
    expect(count(statuses, 429)).toBe(statuses.length - count(statuses, 200));
  }, 120_000);

  it("admits exactly the tenant's requests per minute with lease 0", async () => {
    await awayFromMinuteEdge();
    const statuses = await burst(EXACT_KEY);
    expect(count(statuses, 200)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(WORKERS * CALLERS_PER_WORKER - LIMIT);
  }, 120_000);

  it("never admits past a managed key's requests per minute", async () => {
    const created = await fetch(`${urls[2]}/admin/tenants/fleet-keys/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "fleet", limits: { requestsPerMinute: LIMIT } }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    await awayFromMinuteEdge();
    const statuses = await burst(key);
    expect(count(statuses, 200)).toBeGreaterThan(0);
    expect(count(statuses, 200)).toBeLessThanOrEqual(LIMIT);
    expect(count(statuses, 429)).toBe(statuses.length - count(statuses, 200));
  }, 120_000);

  it("admits exactly one end user's requests per minute (lease 0), and another user of the tenant still gets all of theirs", async () => {
    const mint = async (sub: string) => {
      const response = await fetch(`${urls[1]}/v1/frontend/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${USERS_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ sub }),
      });
      return ((await response.json()) as { token: string }).token;
    };
    const alice = await mint("alice");
    const bob = await mint("bob");
    await awayFromMinuteEdge();
    const statuses = await burst(alice);
    expect(count(statuses, 200)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(WORKERS * CALLERS_PER_WORKER - LIMIT);
    const other = await burst(bob);
    expect(count(other, 200)).toBe(LIMIT);
    expect(count(other, 429)).toBe(WORKERS * CALLERS_PER_WORKER - LIMIT);
  }, 120_000);
});
