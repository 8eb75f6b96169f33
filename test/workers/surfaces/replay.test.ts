import { describe, expect, it } from "vitest";
import {
  eventsFromJson,
  jsonFromEvents,
  replayJson,
  replaySse,
  ssePayloads,
} from "../../../src/surfaces/replay";

const head = {
  id: "b1e23612-29d5-4f66-b185-fb61fdde0ac9",
  object: "chat.completion.chunk",
  created: 1786782776,
  model: "deepseek-v4-flash",
  system_fingerprint: "a26a7955944dc5c60445bff77fac9c8e",
};
const usage = {
  prompt_tokens: 97,
  completion_tokens: 106,
  total_tokens: 203,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 88 },
  prompt_cache_hit_tokens: 0,
  prompt_cache_miss_tokens: 97,
};
const chunk = (
  delta: Record<string, unknown>,
  finish: string | null = null,
  extra: Record<string, unknown> = {},
) =>
  JSON.stringify({
    ...head,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  });

/** A thinking-mode stream with a tool call, as DeepSeek V4 sends it (deepseek-api.md §5.4, §5.5). */
const THINKING_TOOL_STREAM = [
  chunk({ role: "assistant", content: null, reasoning_content: "" }),
  chunk({ content: null, reasoning_content: "The user" }),
  chunk({ content: null, reasoning_content: " wants weather." }),
  chunk({
    tool_calls: [
      { index: 0, id: "call_00_Ih", type: "function", function: { name: "weather", arguments: "" } },
    ],
  }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
  chunk({ content: "", reasoning_content: null }, "tool_calls", { usage }),
];

describe("a streamed entry served as JSON", () => {
  it("assembles reasoning, content and tool calls into one chat.completion", () => {
    const json = JSON.parse(jsonFromEvents(THINKING_TOOL_STREAM, "chat"));
    expect(json).toEqual({
      id: head.id,
      object: "chat.completion",
      created: head.created,
      model: head.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "",
            reasoning_content: "The user wants weather.",
            tool_calls: [
              {
                index: 0,
                id: "call_00_Ih",
                type: "function",
                function: { name: "weather", arguments: '{"city":"Paris"}' },
              },
            ],
          },
          logprobs: null,
          finish_reason: "tool_calls",
        },
      ],
      usage,
      system_fingerprint: head.system_fingerprint,
    });
    expect(Object.keys(json)).toEqual([
      "id",
      "object",
      "created",
      "model",
      "choices",
      "usage",
      "system_fingerprint",
    ]);
  });

  it("leaves reasoning_content out when the model did not think, and merges logprobs", () => {
    const events = [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hel" }),
      JSON.stringify({
        ...head,
        choices: [
          {
            index: 0,
            delta: { content: "lo" },
            logprobs: { content: [{ token: "lo", logprob: -0.1 }] },
            finish_reason: null,
          },
        ],
      }),
      chunk({ content: "" }, "stop", { usage: { ...usage, completion_tokens_details: undefined } }),
    ];
    const message = JSON.parse(jsonFromEvents(events, "chat")).choices[0];
    expect(message.message).toEqual({ role: "assistant", content: "Hello" });
    expect(message.logprobs).toEqual({ content: [{ token: "lo", logprob: -0.1 }] });
  });

  it("assembles FIM text completions", () => {
    const fim = (text: string, finish: string | null = null, extra = {}) =>
      JSON.stringify({
        ...head,
        object: "text_completion",
        choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
        ...extra,
      });
    const json = JSON.parse(jsonFromEvents([fim("def "), fim("f():"), fim("", "stop", { usage })], "fim"));
    expect(json.object).toBe("text_completion");
    expect(json.choices).toEqual([{ text: "def f():", index: 0, logprobs: null, finish_reason: "stop" }]);
    expect(json.usage).toEqual(usage);
  });
});

describe("a JSON entry served as a stream", () => {
  it("becomes DeepSeek's chunk sequence, and assembles back to the same answer", () => {
    const original = jsonFromEvents(THINKING_TOOL_STREAM, "chat");
    const events = eventsFromJson(original, "chat");
    const parsed = events.map((e) => JSON.parse(e));
    expect(parsed[0].choices[0].delta).toEqual({ role: "assistant", content: null, reasoning_content: "" });
    expect(parsed.every((c) => c.id === head.id && c.object === "chat.completion.chunk")).toBe(true);
    expect(parsed.at(-1).choices[0].finish_reason).toBe("tool_calls");
    expect(parsed.at(-1).usage).toEqual(usage);
    expect(parsed.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    expect(JSON.parse(jsonFromEvents(events, "chat"))).toEqual(JSON.parse(original));
  });

  it("frames SSE exactly as DeepSeek does, ending with [DONE]", () => {
    const json = JSON.stringify({
      ...head,
      object: "chat.completion",
      choices: [
        { index: 0, message: { role: "assistant", content: "Hi" }, logprobs: null, finish_reason: "stop" },
      ],
      usage,
    });
    const text = new TextDecoder().decode(replaySse({ endpoint: "chat", kind: "json", json }));
    expect(text.endsWith("\n\ndata: [DONE]\n\n")).toBe(true);
    const payloads = ssePayloads(text);
    expect(payloads.map((p) => JSON.parse(p).choices[0].delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "Hi" },
      { content: "" },
    ]);
    expect(replayJson({ endpoint: "chat", kind: "json", json })).toBe(json);
  });
});

describe("a streamed entry served as a stream", () => {
  it("replays every stored event verbatim, one event each, in order", () => {
    const text = new TextDecoder().decode(
      replaySse({ endpoint: "chat", kind: "stream", events: THINKING_TOOL_STREAM }),
    );
    expect(text).toBe(`${THINKING_TOOL_STREAM.map((e) => `data: ${e}\n\n`).join("")}data: [DONE]\n\n`);
    expect(ssePayloads(`: keep-alive\n\n${text}`)).toEqual(THINKING_TOOL_STREAM);
  });
});
