import { describe, expect, it } from "vitest";
import { dialectOf } from "../../../src/surfaces";
import type { Dialect } from "../../../src/surfaces/types";

const ANTHROPIC = dialectOf("messages") as Dialect;
const RESPONSES = dialectOf("responses") as Dialect;

const MESSAGE_EVENTS = [
  {
    type: "message_start",
    message: {
      id: "m1",
      type: "message",
      role: "assistant",
      model: "deepseek-flash",
      content: [],
      stop_reason: null,
      usage: {
        input_tokens: 30,
        cache_read_input_tokens: 64,
        cache_creation_input_tokens: 0,
        output_tokens: 0,
      },
    },
  },
  { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Hmm" } },
  { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "m1" } },
  { type: "content_block_stop", index: 0 },
  { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "" } },
  { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: 'Hi "there"' } },
  { type: "content_block_stop", index: 1 },
  {
    type: "content_block_start",
    index: 2,
    content_block: { type: "tool_use", id: "t1", name: "calc", input: {} },
  },
  { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"x":' } },
  { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: "1}" } },
  { type: "content_block_stop", index: 2 },
  {
    type: "message_delta",
    delta: { stop_reason: "tool_use", stop_sequence: null },
    usage: { output_tokens: 9 },
  },
  { type: "message_stop" },
].map((event) => JSON.stringify(event));

function readAll(dialect: Dialect, events: readonly string[]) {
  const reader = dialect.reader();
  const seen = { tokens: 0, done: false, usage: undefined as unknown, finish: undefined as unknown };
  for (const event of events) {
    const reading = reader.read(event);
    if (reading.token) seen.tokens++;
    if (reading.done) seen.done = true;
    if (reading.usage) seen.usage = reading.usage;
    if (reading.finishReason) seen.finish = reading.finishReason;
  }
  return seen;
}

/** The same events with `type` moved last: the reader must not depend on field order. */
function typeLast(events: readonly string[]): string[] {
  return events.map((event) => {
    const { type, ...rest } = JSON.parse(event) as { type: string };
    return JSON.stringify({ ...rest, type });
  });
}

describe("the Anthropic dialect", () => {
  it("reads tokens, additive usage, the stop reason and the final event, in any field order", () => {
    const expected = {
      tokens: 4,
      done: true,
      finish: "tool_use",
      usage: {
        promptTokens: 94,
        completionTokens: 9,
        cacheHitTokens: 64,
        cacheMissTokens: 30,
        reasoningTokens: 0,
      },
    };
    expect(readAll(ANTHROPIC, MESSAGE_EVENTS)).toEqual(expected);
    expect(readAll(ANTHROPIC, typeLast(MESSAGE_EVENTS))).toEqual(expected);
  });

  it("assembles a Message from the events, and streams it back as events that assemble the same", () => {
    const message = JSON.parse(ANTHROPIC.jsonFromEvents(MESSAGE_EVENTS)) as Record<string, unknown>;
    expect(message).toMatchObject({
      id: "m1",
      stop_reason: "tool_use",
      content: [
        { type: "thinking", thinking: "Hmm", signature: "m1" },
        { type: "text", text: 'Hi "there"' },
        { type: "tool_use", id: "t1", name: "calc", input: { x: 1 } },
      ],
      usage: { input_tokens: 30, output_tokens: 9 },
    });
    const again = ANTHROPIC.jsonFromEvents(ANTHROPIC.eventsFromJson(JSON.stringify(message)));
    expect(JSON.parse(again)).toEqual(message);
  });

  it("frames each event with its name, which the SDK dispatches on", () => {
    const text = new TextDecoder().decode(ANTHROPIC.frame(MESSAGE_EVENTS.slice(0, 1)));
    expect(text).toBe(`event: message_start\ndata: ${MESSAGE_EVENTS[0]}\n\n`);
  });

  it("renders errors in Anthropic's envelope, an overload as 529", () => {
    const facts = { status: 503, type: "service_unavailable_error", message: "busy", code: "x", param: null };
    expect(ANTHROPIC.errorBody(facts)).toEqual({
      status: 529,
      body: { type: "error", error: { type: "overloaded_error", message: "busy" } },
    });
  });
});

describe("the Responses dialect", () => {
  const response = {
    id: "resp_1",
    object: "response",
    status: "completed",
    model: "deepseek-flash",
    output: [
      { type: "reasoning", id: "rs_1", summary: [], content: [{ type: "reasoning_text", text: "Think" }] },
      {
        type: "message",
        id: "msg_1",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: "Hi", annotations: [] }],
      },
      {
        type: "function_call",
        id: "fc_1",
        call_id: "call_1",
        name: "calc",
        arguments: '{"x":1}',
        status: "completed",
      },
    ],
    usage: {
      input_tokens: 100,
      input_tokens_details: { cached_tokens: 64 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 1 },
      total_tokens: 107,
    },
  };

  it("streams a stored response as numbered events the reader accounts like the original", () => {
    const events = RESPONSES.eventsFromJson(JSON.stringify(response));
    expect(events.map((e) => (JSON.parse(e) as { sequence_number: number }).sequence_number)).toEqual(
      events.map((_, i) => i),
    );
    expect(readAll(RESPONSES, events)).toEqual({
      tokens: 3,
      done: true,
      finish: "completed",
      usage: {
        promptTokens: 100,
        completionTokens: 7,
        cacheHitTokens: 64,
        cacheMissTokens: 36,
        reasoningTokens: 1,
      },
    });
    expect(readAll(RESPONSES, typeLast(events))).toEqual(readAll(RESPONSES, events));
    expect(JSON.parse(RESPONSES.jsonFromEvents(events))).toEqual(response);
  });
});
