import { Hono } from "hono";
import type { AppEnv } from "./env";
import { RouterError, reportError } from "./errors";
import { authenticate } from "./middleware/auth";
import { browserCors } from "./middleware/cors";
import { withPolicy } from "./middleware/policy";
import { requestContext } from "./middleware/request-context";
import { requestTrace } from "./middleware/trace";
import { recordOverhead } from "./observe/overhead";
import { admin } from "./routes/admin";
import {
  ANTHROPIC_MODEL_PATH,
  ANTHROPIC_MODELS_PATH,
  anthropic,
  anthropicSurface,
  COUNT_TOKENS_PATH,
  MESSAGES_PATHS,
} from "./routes/anthropic";
import { BALANCE_PATHS, balance } from "./routes/balance";
import { BATCH_PATHS, batches } from "./routes/batches";
import { CHAT_PATHS, chat } from "./routes/chat";
import { COMPLETION_PATHS, completions } from "./routes/completions";
import { dashboard } from "./routes/dashboard";
import { FILE_PATHS, files } from "./routes/files";
import {
  FRONTEND_JWKS_PATH,
  FRONTEND_SESSION_PATH,
  FRONTEND_TOKEN_PATHS,
  frontendKeys,
  frontendSessions,
  frontendTokens,
} from "./routes/frontend";
import { health } from "./routes/health";
import { LATENCY_PATHS, latency } from "./routes/latency";
import { operator } from "./routes/metrics";
import { MODEL_ITEM_PATHS, MODEL_PATHS, models } from "./routes/models";
import { openapi } from "./routes/openapi";
import { POOL_PATHS, pools } from "./routes/pools";
import { adminRequests, REQUEST_PATHS, tenantRequests } from "./routes/requests";
import {
  CANCEL_PATHS,
  INPUT_ITEMS_PATHS,
  RESPONSE_PATHS,
  RESPONSES_PATHS,
  responses,
} from "./routes/responses";
import { RESUME_PATHS, resumable } from "./routes/resumable";
import { usage } from "./routes/usage";
import { errorResponse } from "./surfaces";
import type { WireEndpoint } from "./surfaces/types";

/** Response headers a browser script may read. */
const ROUTER_HEADERS = [
  "x-request-id",
  "request-id",
  "x-router-overhead-ms",
  "x-router-model",
  "x-router-pool",
  "x-router-target",
  "x-router-queue-ms",
  "x-router-retries",
  "x-router-class",
  "x-router-reason",
  "x-router-degraded",
  "x-router-cache",
  "x-router-cache-key",
  "x-router-cost-usd",
  "x-router-saved-usd",
  "x-router-token-count",
  "age",
  "retry-after",
  "retry-after-ms",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
  "x-router-budget-reset",
  "traceparent",
  "x-router-stream-id",
];

/** Each inference path and the endpoint it serves, which a request's record names. */
const INFERENCE_ENDPOINTS = new Map<string, WireEndpoint>([
  ...CHAT_PATHS.map((path) => [path, "chat"] as const),
  ...COMPLETION_PATHS.map((path) => [path, "fim"] as const),
  ...MESSAGES_PATHS.map((path) => [path, "messages"] as const),
  ...RESPONSES_PATHS.map((path) => [path, "responses"] as const),
]);

/** Paths a browser on another origin never calls: minting (a server key's) and the operator's APIs. */
const SERVER_ONLY_PREFIXES = ["/v1/frontend/tokens", "/admin/", "/metrics"];

/** Middleware order: request context (id, timing) → CORS → routes; auth guards all but /healthz. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestContext);
  // Issue 25: every inference request's timeline, record and trace; `traceparent` on every answer.
  app.use(requestTrace(INFERENCE_ENDPOINTS));
  const cors = browserCors(ROUTER_HEADERS);
  // These answer no page on another origin: with no CORS headers a browser can never read a token
  // minted with a server key, nor send the admin key cross-site (the consoles call them same-origin).
  app.use((c, next) => {
    if (!SERVER_ONLY_PREFIXES.some((prefix) => c.req.path.startsWith(prefix))) return cors(c, next);
    // A preflight here would otherwise fall through to a route's key check and blame the wrong key.
    if (c.req.method === "OPTIONS")
      throw new RouterError("method_not_allowed", `${c.req.path} answers no cross-origin requests.`);
    return next();
  });
  app.use(recordOverhead);
  app.use("/anthropic/*", anthropicSurface);

  app.route("/", health);
  app.route("/", dashboard);
  app.route("/", operator);
  app.route("/", openapi);
  app.route("/", adminRequests);
  app.route("/admin", admin);
  app.route("/", frontendKeys);
  app.route("/", frontendSessions);
  rejectOtherMethods(
    app,
    [...CHAT_PATHS, ...COMPLETION_PATHS, ...MESSAGES_PATHS, COUNT_TOKENS_PATH, ...RESPONSES_PATHS],
    "POST",
  );
  rejectOtherMethods(
    app,
    [
      ...MODEL_PATHS,
      ...MODEL_ITEM_PATHS,
      ...POOL_PATHS,
      ...LATENCY_PATHS,
      ANTHROPIC_MODELS_PATH,
      ANTHROPIC_MODEL_PATH,
      ...BALANCE_PATHS,
      "/healthz",
      "/v1/usage",
      "/dashboard",
      // The admin ones are left to the admin API, whose key check answers first, as for its others.
      ...REQUEST_PATHS.filter((path) => !path.startsWith("/admin/")),
      FRONTEND_JWKS_PATH,
    ],
    "GET",
  );
  rejectOtherMethods(app, [...FRONTEND_TOKEN_PATHS, FRONTEND_SESSION_PATH], "POST");
  // A kept Response's input items and a kept chat stream (issue 24) are only read.
  rejectOtherMethods(app, [...INPUT_ITEMS_PATHS, ...RESUME_PATHS], "GET");
  // Files, batches (issue 15) and kept Responses (issue 24): each path's 405 names the methods it takes.
  const [fileList, file, fileContent] = FILE_PATHS;
  const [batchList, batch, batchCancel] = BATCH_PATHS;
  rejectMethods(app, [fileList, batchList], ["PUT", "PATCH", "DELETE"]);
  rejectMethods(app, [file, ...RESPONSE_PATHS], ["POST", "PUT", "PATCH"]);
  rejectOtherMethods(app, [fileContent, batch], "GET");
  rejectOtherMethods(app, [batchCancel, ...CANCEL_PATHS], "POST");

  const api = new Hono<AppEnv>();
  api.use(authenticate, withPolicy);
  api.route("/", chat);
  api.route("/", completions);
  api.route("/", anthropic);
  api.route("/", responses);
  api.route("/", models);
  api.route("/", usage);
  api.route("/", tenantRequests);
  api.route("/", balance);
  api.route("/", pools);
  api.route("/", latency);
  api.route("/", files);
  api.route("/", batches);
  api.route("/", frontendTokens);
  // Kept chat streams, resumed by id (issue 24).
  api.route("/", resumable);
  app.route("/", api);

  // Errors are rendered in the envelope of the surface the request came through (Anthropic's under /anthropic).
  app.notFound((c) =>
    errorResponse(
      new RouterError("not_found", `No route for ${c.req.method} ${c.req.path}.`),
      c.get("surface"),
    ),
  );
  app.onError((err, c) => errorResponse(reportError(err, c.get("requestId")), c.get("surface")));
  return app;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

function rejectOtherMethods(app: Hono<AppEnv>, paths: readonly string[], allowed: string): void {
  rejectMethods(
    app,
    paths,
    METHODS.filter((method) => method !== allowed),
  );
}

function rejectMethods(app: Hono<AppEnv>, paths: readonly string[], refused: string[]): void {
  const allowed = METHODS.filter((method) => !refused.includes(method)).join(", ");
  app.on(refused, [...paths], function refuseMethod() {
    throw new RouterError("method_not_allowed", `Use ${allowed} for this endpoint.`, {
      headers: { allow: allowed },
    });
  });
}
