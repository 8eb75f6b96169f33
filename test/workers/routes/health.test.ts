import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../src/index";
import { callRouter } from "../helpers";

describe("GET /healthz", () => {
  it("answers without a key when the configuration is valid", async () => {
    const response = await callRouter("/healthz", { key: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", policy: "default" });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get("x-router-overhead-ms")).toMatch(/^\d+\.\d{2}$/);
  });

  it("names each invalid field without echoing its value, and the data plane refuses traffic", async () => {
    const broken = {
      ...env,
      ROUTER_TENANTS: JSON.stringify([{ id: "acme", keys: ["not-a-digest-secret-value"] }]),
      MAX_BODY_BYTES: "tiny",
    };
    const health = await worker.fetch(new Request("http://router.test/healthz"), broken);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; errors: string[] };
    expect(body.status).toBe("misconfigured");
    expect(body.errors.join("\n")).toContain("ROUTER_TENANTS.0.keys.0");
    expect(body.errors.join("\n")).toContain("vars.MAX_BODY_BYTES");
    expect(JSON.stringify(body)).not.toContain("not-a-digest-secret-value");

    const refused = await worker.fetch(new Request("http://router.test/v1/models"), broken);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe(
      "service_unavailable_error",
    );
  });

  it("reports a missing upstream key", async () => {
    const response = await worker.fetch(new Request("http://router.test/healthz"), {
      ...env,
      DEEPSEEK_API_KEY: "",
    });
    expect(response.status).toBe(503);
    expect(JSON.stringify(await response.json())).toContain("DEEPSEEK_API_KEY");
  });
});
