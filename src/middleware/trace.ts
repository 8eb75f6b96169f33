import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { recordRefusal } from "../observe/recorder";
import { Timeline, traceContext, traceparentOf } from "../trace";
import { stampResponse } from "./stamp";

/**
 * Starts the request's timeline (issue 25) in the caller's trace when it sent a W3C `traceparent`, and
 * answers with the router's own `traceparent`, so a caller can find its request. An inference request
 * that was refused before the pipeline accounted for it (a bad body, a limit) is recorded here, once
 * its status is known; one without a tenant (no valid key) belongs to no one and is not.
 */
export function requestTrace(inferenceEndpoints: ReadonlyMap<string, string>) {
  return createMiddleware<AppEnv>(async function requestTrace(c, next) {
    const timeline = new Timeline(c.get("receivedAt"), Date.now(), traceContext(c.req.header("traceparent")));
    timeline.endpoint = inferenceEndpoints.get(c.req.path);
    c.set("timeline", timeline);
    await next();
    stampResponse(c, "traceparent", traceparentOf(timeline.trace));
    if (
      timeline.accounted ||
      timeline.recorded ||
      !c.get("tenant") ||
      c.req.method !== "POST" ||
      timeline.endpoint === undefined
    )
      return;
    const code = c.error instanceof RouterError ? c.error.code : undefined;
    c.executionCtx.waitUntil(recordRefusal(c, c.res.status, code));
  });
}
