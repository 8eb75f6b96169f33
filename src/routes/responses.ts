import { type Context, Hono } from "hono";
import type { InferenceCall } from "../classify/classify";
import type { AppEnv } from "../env";
import { isErrorCode, RouterError } from "../errors";
import { readJsonBody } from "../middleware/json-body";
import {
  configOf,
  eventStream,
  keptSettings,
  lastSeen,
  newAnswerId,
  ownerOf,
  routingHeaders,
} from "../owner/calls";
import { type ItemQuery, itemPage } from "../owner/input-items";
import type { OwnedCall, OwnedSnapshot, OwnedStatus } from "../owner/types";
import { refuseAtDecision, serveInference } from "../proxy/serve";
import { internalChat, type ResponsesRequest, responsesRequest } from "../schema/responses";
import { echoPrevious } from "../surfaces/responses";
import type { Json } from "../surfaces/scan";
import { pageLimit } from "./files";
import { readerOf, refusedAtOpening, startKept } from "./resumable";

/** The Responses front door; DeepSeek serves it at `/responses`, the openai SDK appends it to `…/v1`. */
export const RESPONSES_PATHS = ["/v1/responses", "/responses"] as const;
/** A kept Response (issue 24): retrieve (and resume its events), delete, cancel. */
export const RESPONSE_PATHS = ["/v1/responses/:id", "/responses/:id"];
export const CANCEL_PATHS = ["/v1/responses/:id/cancel", "/responses/:id/cancel"];
/** A kept Response's own input items, OpenAI's cursor list (`client.responses.inputItems.list`). */
export const INPUT_ITEMS_PATHS = ["/v1/responses/:id/input_items", "/responses/:id/input_items"];

export const responses = new Hono<AppEnv>();

/**
 * DeepSeek's Responses API is stateless: it answers `store: false` whatever the request says and
 * silently ignores `previous_response_id` (api-surfaces.md §3.5). The router keeps Responses itself
 * when asked (`store: true`, or `background: true`, which implies it) and expands `previous_response_id`
 * into the whole conversation before it relays the request. `store` defaults to false: an answer is kept
 * only when the caller asks, so nobody's conversation is retained by surprise.
 */
for (const path of RESPONSES_PATHS) {
  responses.post(path, async (c) => {
    const { body } = await readJsonBody(c, responsesRequest);
    if (body.conversation !== undefined && body.conversation !== null)
      throw new RouterError(
        "invalid_request",
        "'conversation' is not supported: continue a stored response with 'previous_response_id', or send the whole conversation as 'input'.",
        { param: "conversation" },
      );
    // Its answer is fetched by id, which takes a server key: a page could never read it, yet it would
    // hold a place in the tenant's quota of kept answers. `store` stays open to a page, for chaining.
    if (body.background === true && c.get("endUser"))
      throw new RouterError(
        "frontend_token_not_allowed",
        "A background response is read back with GET /v1/responses/{id}, which takes a server key; a frontend token cannot ask for one.",
        { param: "background" },
      );
    if (body.background === true && body.store === false)
      throw new RouterError("invalid_request", "A background response is stored: 'store' cannot be false.", {
        param: "store",
      });
    const input = await expandedInput(c, body);
    const sent = statelessBody(body, input);
    if (body.background === true || body.store === true) return serveKept(c, body, sent, input);
    const answer = await serveInference(c, responsesCall(sent, JSON.stringify(sent)));
    return body.previous_response_id ? echoPrevious(answer, body.previous_response_id) : answer;
  });
}

/** A Responses request as the pipeline takes it: classified in chat terms, relayed in its own. */
function responsesCall(sent: ResponsesRequest, rawBody: string): InferenceCall {
  return {
    request: { endpoint: "chat", body: internalChat(sent) },
    rawBody,
    beta: false,
    surface: { endpoint: "responses", body: sent, headers: {} },
  };
}

/** The request's input with the stored conversation it continues in front (what DeepSeek needs). */
async function expandedInput(c: Context<AppEnv>, body: ResponsesRequest): Promise<unknown[]> {
  const own = typeof body.input === "string" ? [{ role: "user", content: body.input }] : body.input;
  const previous = body.previous_response_id;
  if (!previous) return own;
  const tenant = c.get("tenant").id;
  const stored = previous.startsWith("resp_")
    ? await ownerOf(c.env, tenant, previous).conversation(readerOf(c))
    : null;
  if (!stored)
    throw new RouterError(
      "invalid_request",
      `Previous response with id '${previous}' not found: only responses created with 'store: true' (or 'background: true') are kept, for ${keptSettings(c.env).responseTtlMs / 86_400_000} days.`,
      { param: "previous_response_id" },
    );
  if (!stored.ok)
    throw new RouterError("invalid_request", unfinishedMessage(previous, stored.status), {
      param: "previous_response_id",
    });
  // Output items go back as they came: reasoning items carry the reasoning a thinking-mode tool call needs.
  return [...(JSON.parse(stored.items) as unknown[]), ...own];
}

/** Why a kept Response that is not completed or incomplete cannot be continued. */
function unfinishedMessage(id: string, status: OwnedStatus): string {
  if (status === "queued" || status === "in_progress")
    return `Previous response '${id}' is ${status}; it can be continued once it has finished.`;
  const ended = status === "cancelled" ? "was cancelled" : "failed";
  return `Previous response '${id}' ${ended} and has no output to continue from: only a completed or incomplete response can be continued.`;
}

/** What DeepSeek is sent: stateless, without the fields only the router acts on. */
function statelessBody(body: ResponsesRequest, input: unknown[]): ResponsesRequest {
  const { background: _b, store: _s, previous_response_id: _p, conversation: _c, ...rest } = body;
  return body.previous_response_id ? ({ ...rest, input } as ResponsesRequest) : (rest as ResponsesRequest);
}

/** A stored or background Response: its owner runs it; the caller gets the object, its events, or its end. */
async function serveKept(
  c: Context<AppEnv>,
  body: ResponsesRequest,
  sent: ResponsesRequest,
  input: unknown[],
): Promise<Response> {
  const tenant = c.get("tenant").id;
  const settings = keptSettings(c.env);
  const id = newAnswerId("resp");
  const background = body.background === true;
  const streamed = { ...sent, stream: true };
  const call: OwnedCall = {
    id,
    tenant,
    keyId: c.get("routerKey")?.id ?? null,
    endUser: c.get("endUser"),
    kind: "responses",
    path: "/v1/responses",
    body: JSON.stringify(streamed),
    headers: routingHeaders(c.req.raw.headers, {
      "x-request-id": id,
      ...(background ? { "x-router-latency": "background" } : {}),
    }),
    echo: { background, store: true, previous_response_id: body.previous_response_id ?? null },
    input: JSON.stringify(input),
    ownItems: typeof body.input === "string" ? 1 : body.input.length,
    model: body.model,
    bounds: { maxBytes: settings.maxBytes, ttlMs: settings.responseTtlMs },
    config: configOf(c.env),
  };
  // Refused at create, as OpenAI does, when the owner's request (this body and these headers) would be
  // refused at its decision. Nothing is sent from here, so the check needs no body text.
  refuseAtDecision(c, responsesCall(streamed, ""), call.headers["x-router-latency"]);
  const { owner, started } = await startKept(c, call);
  // A background Response's id is handed out at once: a refusal then shows on the object, as failed.
  const refusal = background ? undefined : await refusedAtOpening(c, owner);
  if (refusal) return refusal;
  const reader = readerOf(c);
  if (body.stream === true) return eventStream(await followed(owner.follow(reader, -1)));
  if (background) return responseObject(started);
  // Stored, in the foreground: the caller waits for the end, as for any non-streamed answer.
  await (await followed(owner.follow(reader, -1))).pipeTo(new WritableStream());
  return responseObject(finished(await owner.snapshot(reader)));
}

async function followed(
  stream: Promise<ReadableStream<Uint8Array> | null>,
): Promise<ReadableStream<Uint8Array>> {
  const found = await stream;
  if (!found) throw notKept();
  return found;
}

/** A foreground answer that failed gets an error status, as an unstored one would. */
function finished(snapshot: OwnedSnapshot | null): OwnedSnapshot {
  if (!snapshot) throw notKept();
  if (snapshot.status === "failed" && snapshot.error) {
    // The pipeline's refusal keeps its status when its code is one of the router's (429 stays 429).
    const { code, message } = snapshot.error;
    throw new RouterError(isErrorCode(code) ? code : "upstream_error", message);
  }
  return snapshot;
}

function responseObject(snapshot: OwnedSnapshot | null): Response {
  if (!snapshot?.response) throw notKept();
  return new Response(snapshot.response, { headers: { "content-type": "application/json" } });
}

function notKept(): RouterError {
  return new RouterError(
    "not_found",
    "No such response: it was never stored, has expired or was deleted, or belongs to another key's tenant.",
  );
}

/**
 * A kept Response of the caller's tenant (and, for a frontend token, kept under its end user's own
 * tokens); any other id is a 404, whoever holds it.
 */
function keptOwner(c: Context<AppEnv>) {
  const id = c.req.param("id") ?? "";
  if (!id.startsWith("resp_")) throw notKept();
  return { owner: ownerOf(c.env, c.get("tenant").id, id), reader: readerOf(c) };
}

responses.get(RESPONSE_PATHS[0] as string, retrieve);
responses.get(RESPONSE_PATHS[1] as string, retrieve);
for (const path of RESPONSE_PATHS) {
  responses.delete(path, async (c) => {
    const { owner, reader } = keptOwner(c);
    if (!(await owner.remove(reader))) throw notKept();
    return c.json({ id: c.req.param("id"), object: "response", deleted: true });
  });
}
for (const path of CANCEL_PATHS) {
  responses.post(path, async (c) => {
    const { owner, reader } = keptOwner(c);
    return responseObject(await owner.cancel(reader));
  });
}

for (const path of INPUT_ITEMS_PATHS) {
  responses.get(path, async (c) => {
    const { owner, reader } = keptOwner(c);
    const query = itemQuery(c);
    const items = await owner.inputItems(reader);
    if (items === null) throw notKept();
    return c.json(itemPage(JSON.parse(items) as Json[], query));
  });
}

/** `limit` (1–100, default 20), `order` (`desc` by default), `after`; `include` is accepted: items are kept whole. */
function itemQuery(c: Context<AppEnv>): ItemQuery {
  const order = c.req.query("order") ?? "desc";
  if (order !== "asc" && order !== "desc")
    throw new RouterError("invalid_request", "'order' must be 'asc' or 'desc'.", { param: "order" });
  const after = c.req.query("after");
  return { limit: pageLimit(c.req.query("limit"), 100), order, ...(after ? { after } : {}) };
}

/** `GET /v1/responses/{id}`: the object now; with `stream=true`, its events after `starting_after`, then live. */
async function retrieve(c: Context<AppEnv>): Promise<Response> {
  const { owner, reader } = keptOwner(c);
  if (c.req.query("stream") === "true") {
    const after = lastSeen(c.req.query("starting_after"), "starting_after");
    return eventStream(await followed(owner.follow(reader, after)));
  }
  return responseObject(await owner.snapshot(reader));
}
