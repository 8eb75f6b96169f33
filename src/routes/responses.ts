import { Hono } from "hono";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { readJsonBody } from "../middleware/json-body";
import { serveInference } from "../proxy/serve";
import { internalChat, responsesRequest } from "../schema/responses";

/** The Responses front door; DeepSeek serves it at `/responses`, the openai SDK appends it to `…/v1`. */
export const RESPONSES_PATHS = ["/v1/responses", "/responses"] as const;
/** Stored-response paths: refused, since nothing is stored. */
export const STORED_RESPONSE_PATHS = ["/v1/responses/:id", "/responses/:id", "/v1/responses/:id/cancel"];

export const responses = new Hono<AppEnv>();

/**
 * DeepSeek's Responses API is stateless: it answers `store: false` whatever the request says and
 * silently ignores `previous_response_id` (api-surfaces.md §3.5), which would answer a follow-up with
 * none of its context. The router refuses those fields instead of letting a conversation lose its past.
 */
const STATELESS =
  "DeepSeek's Responses API is stateless and the router stores no responses: send the whole conversation as `input` (the previous output items, then the new ones).";

for (const path of RESPONSES_PATHS) {
  responses.post(path, async (c) => {
    const { body, raw } = await readJsonBody(c, responsesRequest);
    for (const field of ["previous_response_id", "conversation"] as const) {
      if (body[field] !== undefined && body[field] !== null)
        throw new RouterError("invalid_request", `'${field}' is not supported. ${STATELESS}`, {
          param: field,
        });
    }
    return serveInference(c, {
      request: { endpoint: "chat", body: internalChat(body) },
      rawBody: raw,
      beta: false,
      surface: { endpoint: "responses", body, headers: {} },
    });
  });
}

for (const path of STORED_RESPONSE_PATHS) {
  responses.on(["GET", "DELETE", "POST"], path, () => {
    throw new RouterError(
      "not_found",
      `Responses are not stored, so there is none to retrieve. ${STATELESS}`,
    );
  });
}
