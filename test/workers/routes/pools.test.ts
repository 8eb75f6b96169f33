import { describe, expect, it } from "vitest";
import type { PoolView } from "../../../src/admission/status";
import { callRouter, errorOf } from "../helpers";

describe("GET /v1/router/pools", () => {
  it("lists each pool of the default policy with DeepSeek's per-model ceiling, idle", async () => {
    const response = await callRouter("/v1/router/pools");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; data: PoolView[] };
    expect(body.object).toBe("list");
    const byName = Object.fromEntries(body.data.map((pool) => [pool.pool, pool]));
    expect(Object.keys(byName).sort()).toEqual(["deepseek-flash", "deepseek-pro"]);
    expect(byName["deepseek-flash"]).toMatchObject({ ceiling: 2500, limit: 2500, inFlight: 0, queued: 0 });
    expect(byName["deepseek-pro"]).toMatchObject({ ceiling: 500, limit: 500, inFlight: 0, queued: 0 });
  });

  it("needs a router key", async () => {
    const response = await callRouter("/v1/router/pools", { key: null });
    expect(response.status).toBe(401);
  });

  it.each(["POST", "PUT", "DELETE"])("is 405 for %s, naming GET", async (method) => {
    const response = await callRouter("/v1/router/pools", { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
    expect((await errorOf(response)).code).toBe("method_not_allowed");
  });
});
