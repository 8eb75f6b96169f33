import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { servedModels } from "../classify/catalog";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { readJsonBody } from "../middleware/json-body";
import { stampResponse } from "../middleware/stamp";
import { countTokens } from "../proxy/count-tokens";
import { serveInference } from "../proxy/serve";
import {
  type CountTokensRequest,
  countTokensRequest,
  internalChat,
  messagesRequest,
} from "../schema/anthropic";
import { pageLimit } from "./files";
import { servedModel } from "./models";

/**
 * The Anthropic Messages front door, at the paths DeepSeek serves under its `/anthropic` base (the SDK
 * appends `/v1/messages` to the base URL; plain HTTP clients may use `/anthropic/messages`).
 */
export const MESSAGES_PATHS = ["/anthropic/v1/messages", "/anthropic/messages"] as const;
export const COUNT_TOKENS_PATH = "/anthropic/v1/messages/count_tokens";
export const ANTHROPIC_MODELS_PATH = "/anthropic/v1/models";
/** One served model by id (`client.models.retrieve`). */
export const ANTHROPIC_MODEL_PATH = "/anthropic/v1/models/:id";

/** Everything under /anthropic answers errors in Anthropic's envelope, auth failures included. */
export const anthropicSurface = createMiddleware<AppEnv>(async function anthropicSurface(c, next) {
  c.set("surface", "messages");
  await next();
  // Anthropic's own header for the request's id, which its SDKs expose (`_request_id`) and log.
  stampResponse(c, "request-id", c.get("requestId"));
});

export const anthropic = new Hono<AppEnv>();

for (const path of MESSAGES_PATHS) {
  anthropic.post(path, async (c) => {
    const { body, raw } = await readJsonBody(c, messagesRequest);
    const wire = await forUpstream(body, raw, c.get("policy"));
    return serveInference(c, {
      request: { endpoint: "chat", body: internalChat(wire.body as typeof body) },
      rawBody: wire.raw,
      beta: false,
      surface: { endpoint: "messages", body: wire.body, headers: passedHeaders(c.req.raw.headers) },
    });
  });
}

anthropic.post(COUNT_TOKENS_PATH, async (c) => {
  const { body, raw } = await readJsonBody(c, countTokensRequest);
  const wire = await forUpstream(body, raw, c.get("policy"));
  return countTokens(
    c,
    { endpoint: "chat", body: internalChat(wire.body as CountTokensRequest) },
    { body: wire.body, headers: passedHeaders(c.req.raw.headers) },
  );
});

/**
 * Anthropic's model list over the models this policy serves: `limit` (1-1000, default 20) and the
 * `after_id` / `before_id` cursors, which the SDK's auto-pagination follows.
 */
anthropic.get(ANTHROPIC_MODELS_PATH, (c) => {
  const ids = modelPage([...servedModels(c.get("policy"))], {
    limit: pageLimit(c.req.query("limit"), 1_000),
    afterId: c.req.query("after_id"),
    beforeId: c.req.query("before_id"),
  });
  return c.json({
    data: ids.page.map(anthropicModel),
    has_more: ids.hasMore,
    first_id: ids.page[0] ?? null,
    last_id: ids.page.at(-1) ?? null,
  });
});

/** One page of `ids` after (or before) a cursor; a cursor not in the list is a 400 naming it. */
function modelPage(
  ids: string[],
  query: { limit: number; afterId?: string; beforeId?: string },
): { page: string[]; hasMore: boolean } {
  const { limit, afterId, beforeId } = query;
  if (afterId !== undefined && beforeId !== undefined)
    throw new RouterError("invalid_request", "Give 'after_id' or 'before_id', not both.", {
      param: "before_id",
    });
  const cursor = afterId ?? beforeId;
  const at = cursor === undefined ? -1 : ids.indexOf(cursor);
  if (cursor !== undefined && at === -1)
    throw new RouterError("invalid_request", `No model '${cursor}' to page from.`, {
      param: afterId !== undefined ? "after_id" : "before_id",
    });
  if (beforeId !== undefined)
    return { page: ids.slice(Math.max(0, at - limit), at), hasMore: at - limit > 0 };
  const start = at + 1;
  return { page: ids.slice(start, start + limit), hasMore: start + limit < ids.length };
}

anthropic.get(ANTHROPIC_MODEL_PATH, (c) =>
  c.json(anthropicModel(servedModel(c.get("policy"), c.req.param("id")))),
);

/**
 * Anthropic's `ModelInfo`. Its `created_at` is required (the SDKs type it as a string); the release date
 * of a DeepSeek model is not known here, and Anthropic's own docs allow the epoch for that case.
 */
function anthropicModel(id: string): { type: "model"; id: string; display_name: string; created_at: string } {
  return { type: "model", id, display_name: id, created_at: "1970-01-01T00:00:00Z" };
}

/** Protocol headers DeepSeek reads on this surface (`anthropic-beta` gates file images); nothing else. */
function passedHeaders(headers: Headers): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of ["anthropic-version", "anthropic-beta"]) {
    const value = headers.get(name);
    if (value !== null) passed[name] = value;
  }
  return passed;
}

const USER_ID = /^[a-zA-Z0-9_-]{1,512}$/;

/**
 * The body as it goes upstream: Claude model names mapped the way DeepSeek maps them (opus → pro, any
 * other claude → flash, a Claude Code `[1m]` suffix stripped), since the router validates names itself;
 * and a `metadata.user_id` DeepSeek would refuse (Claude Code sends JSON there) replaced by its hash.
 * The caller's bytes are relayed untouched when neither applies.
 */
async function forUpstream<B extends { model: string; metadata?: { user_id?: string | null } }>(
  body: B,
  raw: string | Uint8Array,
  policy: Parameters<typeof servedModels>[0],
): Promise<{ body: Record<string, unknown>; raw: string | Uint8Array }> {
  const model = mappedModel(body.model, servedModels(policy), policy.aliases);
  const userId = body.metadata?.user_id;
  const safeUserId = typeof userId === "string" && !USER_ID.test(userId) ? await hashed(userId) : undefined;
  if (model === body.model && safeUserId === undefined) return { body, raw };
  const changed: Record<string, unknown> = { ...body, model };
  if (safeUserId !== undefined) changed.metadata = { ...body.metadata, user_id: safeUserId };
  return { body: changed, raw: JSON.stringify(changed) };
}

function mappedModel(requested: string, served: Set<string>, aliases: Record<string, string>): string {
  const model = withoutLongContextSuffix(requested);
  if (served.has(model) || aliases[model] || !model.toLowerCase().startsWith("claude")) return model;
  if (model.toLowerCase().startsWith("claude-opus") && served.has("deepseek-v4-pro"))
    return "deepseek-v4-pro";
  return served.has("deepseek-flash") ? "deepseek-flash" : "deepseek-v4-flash";
}

/**
 * Claude Code's `[1m]` suffixes, dropped (any case). A loop, not `/(\[1m\])+$/`: that regex backtracks
 * in time quadratic in the name, so a megabyte of `[1m]` held the CPU for minutes.
 */
function withoutLongContextSuffix(name: string): string {
  let end = name.length;
  while (end >= 4 && name.slice(end - 4, end).toLowerCase() === "[1m]") end -= 4;
  return name.slice(0, end);
}

async function hashed(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `u_${[...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, 40)}`;
}
