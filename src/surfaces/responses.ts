import type { Usage } from "../usage";
import { count, framed, hasText, isObject, type Json, leadingType, parse } from "./scan";
import type { Dialect, ErrorFacts, EventReader, EventReading, RenderedError } from "./types";

/**
 * The OpenAI Responses wire format as DeepSeek serves it (api-surfaces.md §3): semantic SSE events with
 * a `sequence_number`, ending with `response.completed` / `response.incomplete` / `response.failed` and
 * no `[DONE]`; usage on the final response object, input including cached tokens as in chat completions.
 * Errors keep the OpenAI envelope, which the openai SDK reads on this surface too.
 */

const encoder = new TextEncoder();
const FINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);
const OUTPUT_DELTAS = new Set([
  "response.output_text.delta",
  "response.reasoning_text.delta",
  "response.function_call_arguments.delta",
  "response.custom_tool_call_input.delta",
]);

export function usageFromResponses(raw: unknown): Usage | undefined {
  if (!isObject(raw) || typeof raw.input_tokens !== "number") return undefined;
  const input = count(raw.input_tokens);
  const cached = isObject(raw.input_tokens_details) ? count(raw.input_tokens_details.cached_tokens) : 0;
  const reasoning = isObject(raw.output_tokens_details)
    ? count(raw.output_tokens_details.reasoning_tokens)
    : 0;
  return {
    promptTokens: input,
    completionTokens: count(raw.output_tokens),
    cacheHitTokens: cached,
    cacheMissTokens: Math.max(0, input - cached),
    reasoningTokens: reasoning,
  };
}

/** `usage` as a Response object carries it: the inverse of {@link usageFromResponses}. */
export function responsesUsage(usage: Usage): Json {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cacheHitTokens },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/** A finished response's finish reason: its status, or why it is incomplete. */
function finishOf(response: Json): { usage?: Usage; finishReason?: string } {
  const usage = usageFromResponses(response.usage);
  const details = isObject(response.incomplete_details) ? response.incomplete_details : {};
  const finishReason =
    response.status === "incomplete" && typeof details.reason === "string"
      ? details.reason
      : typeof response.status === "string"
        ? response.status
        : undefined;
  return { ...(usage ? { usage } : {}), ...(finishReason ? { finishReason } : {}) };
}

class ResponsesReader implements EventReader {
  read(payload: string): EventReading {
    // Deltas are most of a stream; they and the other non-final events need no parse.
    const type = leadingType(payload);
    if (type !== undefined && OUTPUT_DELTAS.has(type)) return { token: hasText(payload, ["delta"]) };
    if (type !== undefined && type !== "error" && !FINAL.has(type)) return {};
    const event = parse(payload);
    if (!event || typeof event.type !== "string") return {};
    if (OUTPUT_DELTAS.has(event.type))
      return { token: typeof event.delta === "string" && event.delta !== "" };
    if (event.type === "error") return { error: event };
    if (!FINAL.has(event.type)) return {};
    const response = isObject(event.response) ? event.response : {};
    return {
      ...finishOf(response),
      done: true,
      ...(event.type === "response.failed" ? { error: response.error ?? event } : {}),
    };
  }
}

/** The final response object of a streamed answer is the whole non-streamed answer. */
function responseFromEvents(events: readonly string[]): string {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = parse(events[i] as string);
    if (event && FINAL.has(String(event.type)) && isObject(event.response))
      return JSON.stringify(event.response);
  }
  return "{}";
}

/** The event sequence for a stored response: created, in_progress, each output item in full, completed. */
function eventsFromResponse(json: string): string[] {
  const response = parse(json);
  if (!response) return [];
  const output = Array.isArray(response.output) ? response.output.filter(isObject) : [];
  const pending = { ...response, status: "in_progress", output: [], usage: null };
  const events: Json[] = [
    { type: "response.created", response: pending },
    { type: "response.in_progress", response: pending },
  ];
  output.forEach((item, output_index) => {
    events.push({ type: "response.output_item.added", output_index, item: startedItem(item) });
    events.push(...itemDeltas(item, output_index));
    events.push({ type: "response.output_item.done", output_index, item });
  });
  const final = response.status === "incomplete" ? "response.incomplete" : "response.completed";
  events.push({ type: final, response });
  return events.map((event, sequence_number) => JSON.stringify({ ...event, sequence_number }));
}

function startedItem(item: Json): Json {
  if (item.type === "message") return { ...item, status: "in_progress", content: [] };
  if (item.type === "reasoning") return { ...item, content: [] };
  if (item.type === "function_call") return { ...item, status: "in_progress", arguments: "" };
  return item;
}

function itemDeltas(item: Json, output_index: number): Json[] {
  const item_id = item.id;
  if (item.type === "function_call") {
    const args = typeof item.arguments === "string" ? item.arguments : "";
    return [
      { type: "response.function_call_arguments.delta", item_id, output_index, delta: args },
      {
        type: "response.function_call_arguments.done",
        item_id,
        output_index,
        name: item.name,
        arguments: args,
      },
    ];
  }
  const kind =
    item.type === "message" ? "output_text" : item.type === "reasoning" ? "reasoning_text" : undefined;
  if (!kind) return [];
  const parts = Array.isArray(item.content) ? item.content.filter(isObject) : [];
  return parts.flatMap((part, content_index) => {
    const text = typeof part.text === "string" ? part.text : "";
    const at = { item_id, output_index, content_index };
    const empty = { ...part, text: "" };
    const extra = kind === "output_text" ? { logprobs: [] } : {};
    return [
      { type: "response.content_part.added", ...at, part: empty },
      { type: `response.${kind}.delta`, ...at, delta: text, ...extra },
      { type: `response.${kind}.done`, ...at, text, ...extra },
      { type: "response.content_part.done", ...at, part },
    ];
  });
}

function envelope(error: ErrorFacts): RenderedError {
  const { message, type, param, code } = error;
  return { status: error.status, body: { error: { message, type, param, code } } };
}

export const RESPONSES: Dialect = {
  reader: () => new ResponsesReader(),
  readJson: (body) => (isObject(body) ? finishOf(body) : {}),
  frame: (events) => encoder.encode(events.map(framed).join("")),
  eventsFromJson: eventsFromResponse,
  jsonFromEvents: responseFromEvents,
  errorBody: envelope,
  /** An SSE named `error`, numbered after the events sent: the openai SDK raises it as an APIError. */
  errorEvent: ({ message, code, param }, sent) =>
    encoder.encode(framed(JSON.stringify({ type: "error", code, message, param, sequence_number: sent }))),
};

/**
 * An unstored answer to a request that continued `previousId`, saying so as OpenAI's does: DeepSeek is
 * stateless and answers `previous_response_id: null`, since the router sent it the conversation instead.
 * The one rewrite of a relayed answer, and only of such a request's: a JSON body is parsed and written
 * again, a stream's text is rewritten line by line (a data line holds one whole event).
 */
export async function echoPrevious(answer: Response, previousId: string): Promise<Response> {
  if (!answer.ok || !answer.body) return answer;
  const echoed = `"previous_response_id":${JSON.stringify(previousId)}`;
  const headers = new Headers(answer.headers);
  if (!headers.get("content-type")?.startsWith("text/event-stream")) {
    const text = (await answer.text()).replace(PREVIOUS_NULL, echoed);
    headers.delete("content-length");
    return new Response(text, { status: answer.status, headers });
  }
  return new Response(answer.body.pipeThrough(linesReplaced(PREVIOUS_NULL, echoed)), {
    status: answer.status,
    headers,
  });
}

/** The field as DeepSeek leaves it; only ever in the Response object, where the field is DeepSeek's. */
const PREVIOUS_NULL = /"previous_response_id":[ ]?null/g;

/** Each complete line's text with `pattern` replaced; a line cut between chunks waits for its end. */
function linesReplaced(pattern: RegExp, replacement: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let partial = "";
  return new TransformStream({
    transform(chunk, controller) {
      partial += decoder.decode(chunk, { stream: true });
      const cut = partial.lastIndexOf("\n") + 1;
      if (cut === 0) return;
      controller.enqueue(encoder.encode(partial.slice(0, cut).replace(pattern, replacement)));
      partial = partial.slice(cut);
    },
    flush(controller) {
      partial += decoder.decode();
      if (partial) controller.enqueue(encoder.encode(partial.replace(pattern, replacement)));
    },
  });
}
