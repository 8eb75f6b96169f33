import { describe, expect, it } from "vitest";
import { callRouter, errorOf } from "../helpers";

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
