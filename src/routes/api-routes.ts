import { mintRequestSchema } from "../frontend/mint";
import { countTokensRequest, messagesRequest } from "../schema/anthropic";
import { chatRequest } from "../schema/chat";
import { fimRequest } from "../schema/fim";
import { responsesRequest } from "../schema/responses";
import type * as z from "../zod";
import { ANTHROPIC_MODEL_PATH, ANTHROPIC_MODELS_PATH, COUNT_TOKENS_PATH, MESSAGES_PATHS } from "./anthropic";
import { BALANCE_PATHS } from "./balance";
import { createBatch } from "./batches";
import { CHAT_PATHS } from "./chat";
import { COMPLETION_PATHS } from "./completions";
import { revokeSchema, sessionSchema } from "./frontend";
import {
  createSchema as createKeyBody,
  rotateSchema as rotateKeyBody,
  updateSchema as updateKeyBody,
} from "./keys";
import { LATENCY_PATHS } from "./latency";
import { MODEL_ITEM_PATHS, MODEL_PATHS } from "./models";
import { POOL_PATHS } from "./pools";
import { CANCEL_PATHS, INPUT_ITEMS_PATHS, RESPONSE_PATHS, RESPONSES_PATHS } from "./responses";
import { RESUME_PATHS } from "./resumable";
import { createTenantBody, updateTenantBody } from "./tenants";

/**
 * Every route the router answers, as `/openapi.json` describes it (routes/openapi.ts builds the document
 * from these). A test walks `app.routes` and fails on a route missing here, or an entry with no route, so
 * describing a new route is one entry in {@link API_ROUTES}: method, path(s), who may call it, a summary,
 * and the zod schema that validates its body, if it has one (the very schema the route parses with).
 */
export interface RouteDoc {
  method: "get" | "post" | "patch" | "delete";
  /** Hono paths (`/v1/batches/:id`); aliases of one route share an entry. */
  paths: readonly string[];
  /** `none`: anyone; `tenant`: a router key; `admin`: the admin key (only in the admin's document). */
  auth: "none" | "tenant" | "admin";
  tag: string;
  summary: string;
  /** The JSON body's schema, or `multipart` for an upload. */
  body?: z.ZodMiniType | "multipart";
  /** Optional query parameters. */
  query?: readonly string[];
  /** The success answer's media type when it is not JSON. */
  produces?: string;
  /** Answers in Anthropic's error envelope rather than OpenAI's. */
  anthropic?: boolean;
}

const r = (
  method: RouteDoc["method"],
  paths: string | readonly string[],
  auth: RouteDoc["auth"],
  tag: string,
  summary: string,
  more: Partial<RouteDoc> = {},
): RouteDoc => ({ method, paths: typeof paths === "string" ? [paths] : paths, auth, tag, summary, ...more });

const RECORD_FILTERS = [
  "limit",
  "after",
  "from",
  "to",
  "model",
  "outcome",
  "status",
  "slow_ms",
  "min_cost_usd",
  "cache",
  "request_id",
] as const;

const SSE = "application/json, or text/event-stream when `stream` is true";

export const API_ROUTES: readonly RouteDoc[] = [
  // Inference surfaces: the request shapes the router accepts.
  r("post", CHAT_PATHS, "tenant", "inference", "Chat completion (OpenAI/DeepSeek shape)", {
    body: chatRequest,
    produces: SSE,
  }),
  r("post", COMPLETION_PATHS, "tenant", "inference", "FIM completion", { body: fimRequest, produces: SSE }),
  r("post", MESSAGES_PATHS, "tenant", "inference", "Anthropic Messages", {
    body: messagesRequest,
    produces: SSE,
    anthropic: true,
  }),
  r("post", COUNT_TOKENS_PATH, "tenant", "inference", "Anthropic token count", {
    body: countTokensRequest,
    anthropic: true,
  }),
  r("get", ANTHROPIC_MODELS_PATH, "tenant", "inference", "Served models, Anthropic's list shape", {
    anthropic: true,
  }),
  r("get", ANTHROPIC_MODEL_PATH, "tenant", "inference", "A served model, Anthropic's shape", {
    anthropic: true,
  }),
  r(
    "post",
    RESPONSES_PATHS,
    "tenant",
    "inference",
    "OpenAI Responses (background, store and previous_response_id kept by the router)",
    {
      body: responsesRequest,
      produces: SSE,
    },
  ),
  // Kept answers (issue 24).
  r(
    "get",
    RESPONSE_PATHS,
    "tenant",
    "inference",
    "A kept Response; with stream=true its events after starting_after, then live",
    {
      query: ["stream", "starting_after"],
      produces: SSE,
    },
  ),
  r("delete", RESPONSE_PATHS, "tenant", "inference", "Delete a kept Response"),
  r("post", CANCEL_PATHS, "tenant", "inference", "Cancel a kept Response's upstream call"),
  r("get", INPUT_ITEMS_PATHS, "tenant", "inference", "A kept Response's own input items, a cursor list", {
    query: ["limit", "order", "after", "include"],
  }),
  r("get", RESUME_PATHS, "tenant", "inference", "Resume a kept chat stream after Last-Event-ID", {
    produces: SSE,
  }),
  r("get", MODEL_PATHS, "tenant", "inference", "Served models"),
  r("get", MODEL_ITEM_PATHS, "tenant", "inference", "A served model"),
  // The tenant's own views.
  r("get", "/v1/usage", "tenant", "tenant", "The caller's usage, cost and limits", { query: ["from", "to"] }),
  r("get", BALANCE_PATHS, "tenant", "tenant", "DeepSeek's balance shape: the tightest dollar budget left"),
  r("get", LATENCY_PATHS, "tenant", "tenant", "The caller's TTFT and latency", { query: ["range"] }),
  r("get", POOL_PATHS, "tenant", "tenant", "Pools: ceiling, limit, in flight, queued"),
  // Files and batches.
  r("post", "/v1/files", "tenant", "batches", "Upload batch input (JSONL)", { body: "multipart" }),
  r("get", "/v1/files", "tenant", "batches", "List files", { query: ["limit", "purpose", "after", "order"] }),
  r("get", "/v1/files/:id", "tenant", "batches", "A file"),
  r("delete", "/v1/files/:id", "tenant", "batches", "Delete a file"),
  r("get", "/v1/files/:id/content", "tenant", "batches", "A file's content", {
    produces: "application/jsonl",
  }),
  r("post", "/v1/batches", "tenant", "batches", "Create a batch", { body: createBatch }),
  r("get", "/v1/batches", "tenant", "batches", "List batches", { query: ["limit", "after"] }),
  r("get", "/v1/batches/:id", "tenant", "batches", "A batch"),
  r("post", "/v1/batches/:id/cancel", "tenant", "batches", "Cancel a batch"),
  // Pages and health.
  r("get", "/healthz", "none", "router", "Configuration health"),
  r("get", "/openapi.json", "none", "router", "This document, without the admin endpoints"),
  r("get", "/dashboard", "none", "router", "The tenant dashboard page (asks for a router key)", {
    produces: "text/html",
  }),
  r("get", "/favicon.ico", "none", "router", "No icon: an empty answer to the browser's own request"),
  r("get", "/operator", "none", "router", "The operator console page (asks for the admin key)", {
    produces: "text/html",
  }),
  r(
    "get",
    "/operator/console",
    "none",
    "router",
    "The operator console: tenants, keys, budgets, batches, cache, alerts (asks for the admin key)",
    { produces: "text/html" },
  ),
  // The admin's.
  r("get", "/admin/openapi.json", "admin", "admin", "This document, admin endpoints included"),
  r("get", "/metrics", "admin", "admin", "Prometheus metrics, fleet-wide", { produces: "text/plain" }),
  r("get", "/metrics/series", "admin", "admin", "The operator dashboard's series", { query: ["range"] }),
  r("get", "/admin/cache/stats", "admin", "admin", "Prompt-cache counters", { query: ["tenant"] }),
  r("delete", "/admin/cache/entries/:key", "admin", "admin", "Purge one cache entry"),
  r(
    "delete",
    "/admin/cache/tenants/:tenant",
    "admin",
    "admin",
    "Purge a tenant's cache entries (a batch per call)",
  ),
  r("delete", "/admin/cache/shared", "admin", "admin", "Purge the shared scope (a batch per call)"),
  r("get", "/admin/tenants", "admin", "admin", "List tenants, configured and stored"),
  r("post", "/admin/tenants", "admin", "admin", "Create a tenant", { body: createTenantBody }),
  r("get", "/admin/tenants/:tenant", "admin", "admin", "A tenant"),
  r("patch", "/admin/tenants/:tenant", "admin", "admin", "Change or disable a tenant", {
    body: updateTenantBody,
  }),
  r("get", "/admin/tenants/:tenant/usage", "admin", "admin", "A tenant's usage and each limit's burn"),
  r(
    "post",
    "/admin/tenants/:tenant/keys",
    "admin",
    "admin",
    "Create a managed key (the secret is shown once)",
    { body: createKeyBody },
  ),
  r("get", "/admin/tenants/:tenant/keys", "admin", "admin", "List a tenant's keys"),
  r("get", "/admin/tenants/:tenant/keys/:id", "admin", "admin", "A key"),
  r("patch", "/admin/tenants/:tenant/keys/:id", "admin", "admin", "Change or disable a key", {
    body: updateKeyBody,
  }),
  r("delete", "/admin/tenants/:tenant/keys/:id", "admin", "admin", "Delete a key"),
  r("post", "/admin/tenants/:tenant/keys/:id/rotate", "admin", "admin", "Rotate a key's secret, with grace", {
    body: rotateKeyBody,
  }),
  r("get", "/admin/tenants/:tenant/batches", "admin", "admin", "A tenant's batches, newest first", {
    query: ["after"],
  }),
  r("post", "/admin/tenants/:tenant/batches/:id/cancel", "admin", "admin", "Cancel a tenant's batch"),
  r("get", "/admin/alerts", "admin", "admin", "Alert rules in force and recent alerts"),
  // Frontend tokens (issue 23): minted by an app's backend, verified at the edge.
  r("post", "/v1/frontend/tokens", "tenant", "frontend", "Mint a frontend token for one end user (no CORS)", {
    body: mintRequestSchema,
  }),
  r("post", "/v1/frontend/tokens/revoke", "tenant", "frontend", "Revoke an end user's tokens, or the key's", {
    body: revokeSchema,
  }),
  r("get", "/v1/frontend/jwks.json", "none", "frontend", "The public keys frontend tokens are signed with"),
  r(
    "post",
    "/v1/frontend/sessions",
    "none",
    "frontend",
    "An anonymous token for a Turnstile-verified visitor",
    {
      body: sessionSchema,
    },
  ),
  r("get", "/admin/tenants/:tenant/end-users/:id", "admin", "admin", "One end user's counters"),
  // Request records (issue 25): the tenant's own, and every tenant's for the operator.
  r("get", "/v1/requests", "tenant", "requests", "The caller's request records, newest first", {
    query: RECORD_FILTERS,
  }),
  r("get", "/v1/requests/insights", "tenant", "requests", "Prompt-cost insights", { query: ["from", "to"] }),
  r("get", "/v1/requests/:id", "tenant", "requests", "One request record"),
  r("get", "/v1/requests/:id/payload", "tenant", "requests", "A request's captured prompt and answer"),
  r("get", "/admin/requests", "admin", "admin", "Request records of every tenant", {
    query: [...RECORD_FILTERS, "tenant"],
  }),
  r("get", "/admin/requests/insights", "admin", "admin", "A tenant's prompt-cost insights", {
    query: ["tenant", "from", "to"],
  }),
  r("get", "/admin/requests/:id", "admin", "admin", "One request record"),
  r("get", "/admin/requests/:id/payload", "admin", "admin", "A request's captured prompt and answer"),
  r("get", "/operator/requests", "none", "router", "The request explorer page (asks for the admin key)", {
    produces: "text/html",
  }),
  r("get", "/dashboard/requests", "none", "router", "The tenant's request explorer page (asks for a key)", {
    produces: "text/html",
  }),
];
