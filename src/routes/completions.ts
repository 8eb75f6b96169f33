import { Hono } from "hono";
import type { AppEnv } from "../env";
import { readJsonBody } from "../middleware/json-body";
import { serveInference } from "../proxy/serve";
import { fimRequest } from "../schema/fim";

/** FIM completion, which DeepSeek serves only under its `/beta` base. */
export const COMPLETION_PATHS = ["/beta/completions"] as const;

export const completions = new Hono<AppEnv>();

completions.post("/beta/completions", async (c) => {
  const { body, raw } = await readJsonBody(c, fimRequest);
  return serveInference(c, { request: { endpoint: "fim", body }, rawBody: raw, beta: true });
});
