import { Hono } from "hono";
import { servedModels } from "../classify/catalog";
import type { Policy } from "../config/policy";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";

export const MODEL_PATHS = ["/models", "/v1/models"] as const;
/** One served model by id (`client.models.retrieve`). */
export const MODEL_ITEM_PATHS = ["/models/:id", "/v1/models/:id"] as const;

export const models = new Hono<AppEnv>();

for (const path of MODEL_PATHS) {
  models.get(path, (c) =>
    c.json({ object: "list", data: [...servedModels(c.get("policy"))].map(modelObject) }),
  );
}

for (const path of MODEL_ITEM_PATHS) {
  models.get(path, (c) => c.json(modelObject(servedModel(c.get("policy"), c.req.param("id")))));
}

/** DeepSeek's model object: it has no `created` field, so neither has ours. */
function modelObject(id: string): { id: string; object: "model"; owned_by: string } {
  return { id, object: "model", owned_by: "deepseek" };
}

/**
 * `id` if the list shows it under this policy; otherwise a 404 (OpenAI's answer to retrieving an unknown
 * model), which the Anthropic surface renders as its `not_found_error`.
 */
export function servedModel(policy: Policy, id: string): string {
  if (servedModels(policy).has(id)) return id;
  const message = `The model '${id}' does not exist or you do not have access to it.`;
  throw new RouterError("model_not_found", message, { param: "model", status: 404 });
}
