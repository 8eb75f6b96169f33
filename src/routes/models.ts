import { Hono } from "hono";
import { servedModels } from "../classify/catalog";
import type { AppEnv } from "../env";

export const MODEL_PATHS = ["/models", "/v1/models"] as const;

export const models = new Hono<AppEnv>();

for (const path of MODEL_PATHS) {
  // DeepSeek's list has no `created` field; neither does ours.
  models.get(path, (c) =>
    c.json({
      object: "list",
      data: [...servedModels(c.get("policy"))].map((id) => ({ id, object: "model", owned_by: "deepseek" })),
    }),
  );
}
