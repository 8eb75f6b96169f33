import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callRouter, callWithUpstream, errorOf, singlePoolPolicy } from "../helpers";

describe("GET /models", () => {
  it.each(["/models", "/v1/models"])(
    "%s lists the served models as DeepSeek does (no `created`)",
    async (path) => {
      const response = await callRouter(path);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { object: string; data: Array<Record<string, unknown>> };
      expect(body.object).toBe("list");
      expect(body.data.map((model) => model.id)).toEqual([
        "auto",
        "deepseek-flash",
        "deepseek-v4-flash",
        "deepseek-v4-pro",
      ]);
      for (const model of body.data) expect(Object.keys(model).sort()).toEqual(["id", "object", "owned_by"]);
    },
  );

  it("is 405 for POST", async () => {
    const response = await callRouter("/v1/models", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
    expect((await errorOf(response)).code).toBe("method_not_allowed");
  });
});

describe("GET /models/{id}", () => {
  it.each(["/models", "/v1/models"])("%s/{id} answers each listed model as the list has it", async (path) => {
    const list = (await (await callRouter(path)).json()) as { data: Array<{ id: string }> };
    for (const model of list.data) {
      const response = await callRouter(`${path}/${encodeURIComponent(model.id)}`);
      expect(response.status, model.id).toBe(200);
      expect(await response.json()).toEqual(model);
    }
  });

  it("is 404 model_not_found for a model the router does not serve", async () => {
    const response = await callRouter("/v1/models/gpt-4o");
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toEqual({
      message: "The model 'gpt-4o' does not exist or you do not have access to it.",
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    });
  });

  it("is 404 for a model the policy in force leaves out of the list", async () => {
    const policy = { ROUTER_POLICY: singlePoolPolicy(env.DEEPSEEK_BASE_URL) };
    const call = (path: string) => callWithUpstream(env.DEEPSEEK_BASE_URL, path, {}, policy);
    const list = (await (await call("/v1/models")).json()) as { data: Array<{ id: string }> };
    expect(list.data.map((model) => model.id)).not.toContain("deepseek-v4-pro");
    expect((await call("/v1/models/deepseek-v4-flash")).status).toBe(200);
    const hidden = await call("/v1/models/deepseek-v4-pro");
    expect(hidden.status).toBe(404);
    expect((await errorOf(hidden)).code).toBe("model_not_found");
  });

  it("is 405 for POST", async () => {
    const response = await callRouter("/v1/models/deepseek-v4-flash", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
    expect((await errorOf(response)).code).toBe("method_not_allowed");
  });
});
