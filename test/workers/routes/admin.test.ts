import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../cache/support";
import { type CallInit, callWithUpstream, errorOf } from "../helpers";

const ADMIN_KEY = "sk-admin-routes-0000000000000000";
let digest: string;

beforeAll(async () => {
  digest = await sha256Hex(ADMIN_KEY);
});

/** An admin call with ROUTER_ADMIN_KEY set to `configured` (the key's digest by default). */
function admin(path: string, init: CallInit = {}, configured = digest): Promise<Response> {
  return callWithUpstream(
    env.DEEPSEEK_BASE_URL,
    `/admin${path}`,
    { key: ADMIN_KEY, ...init },
    { ROUTER_ADMIN_KEY: configured },
  );
}

describe("/admin", () => {
  it("accepts the digest with a sha256: prefix, in any case, and answers no-store", async () => {
    const response = await admin("/cache/stats", {}, `sha256:${digest.toUpperCase()}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as { total: object; tenants: Record<string, object> };
    expect(Object.keys(body.tenants).sort()).toEqual(["acme", "globex"]);
  });

  it("is a 503 configuration error when ROUTER_ADMIN_KEY is not a digest, and does not echo it", async () => {
    const response = await admin("/cache/stats", {}, ADMIN_KEY);
    expect(response.status).toBe(503);
    const error = await errorOf(response);
    expect(error.code).toBe("configuration_error");
    expect(JSON.stringify(error)).not.toContain(ADMIN_KEY);
  });

  it("404s an unknown tenant in the stats, naming the parameter", async () => {
    const response = await admin("/cache/stats?tenant=initech");
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: "not_found", param: "tenant" });
  });

  it("says whether a deleted entry existed", async () => {
    const key = `tenant:acme:${"0".repeat(64)}`;
    const response = await admin(`/cache/entries/${key}`, { method: "DELETE" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ key, deleted: false });
  });

  it.each([
    ["/cache/entries/not-a-key", "key"],
    ["/cache/tenants/a%20b", "tenant"],
  ])("400s DELETE %s naming '%s'", async (path, param) => {
    const response = await admin(path, { method: "DELETE" });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_request", param });
  });

  it("purges an empty scope in one call", async () => {
    const response = await admin("/cache/shared", { method: "DELETE" });
    expect(await response.json()).toEqual({ scope: "shared", deleted: 0, more: false });
  });

  it("404s an admin path that does not exist, rather than asking for a router key", async () => {
    expect((await admin("/nothing")).status).toBe(404);
  });
});
