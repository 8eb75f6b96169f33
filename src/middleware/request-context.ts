import { createMiddleware } from "hono/factory";
import { loadSettings, misconfigured } from "../config/settings";
import type { AppEnv } from "../env";
import { stampResponse } from "./stamp";

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Outermost middleware: assigns the request id, starts the overhead clock and stamps both headers on
 * every response, errors included. For a stream the headers leave with the first byte, so the overhead
 * is the router's time until then minus what it spent waiting on others (`waitedMs`).
 */
export const requestContext = createMiddleware<AppEnv>(async function requestContext(c, next) {
  c.set("receivedAt", performance.now());
  c.set("waitedMs", 0);
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);

  const settings = loadSettings(c.env);
  if (settings.ok) c.set("settings", settings.value);
  else if (c.req.path !== "/healthz") throw misconfigured();

  await next();

  const overheadMs = Math.max(0, performance.now() - c.get("receivedAt") - c.get("waitedMs"));
  stampResponse(c, "x-request-id", requestId);
  stampResponse(c, "x-router-overhead-ms", overheadMs.toFixed(2));
});
