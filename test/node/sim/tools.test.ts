import { describe, expect, it } from "vitest";
import { chatBody, chunks, fastSim, post } from "./helpers";

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        days: { type: "integer", minimum: 1, maximum: 7 },
      },
      required: ["city"],
    },
  },
};
const search = {
  type: "function",
  function: { name: "web_search", parameters: { type: "object", properties: { query: { type: "string" } } } },
};

type ToolCall = { index: number; id: string; type: string; function: { name: string; arguments: string } };
type Message = { content: string; reasoning_content?: string; tool_calls?: ToolCall[] };

async function call(body: Record<string, unknown>): Promise<{ message: Message; finish: string }> {
  const res = await post(fastSim(), "/chat/completions", body);
  expect(res.status).toBe(200);
  const json = (await res.json()) as { choices: Array<{ message: Message; finish_reason: string }> };
  return { message: json.choices[0]?.message as Message, finish: json.choices[0]?.finish_reason ?? "" };
}

const ask = (content: string) => [{ role: "user", content }];

describe("tool calls", () => {
  it("calls a tool the user mentions (tool_choice auto) with schema-valid arguments", async () => {
    const { message, finish } = await call(
      chatBody({ tools: [weather, search], messages: ask("Use get_weather for Paris") }),
    );
    expect(finish).toBe("tool_calls");
    expect(message.content).toBe("");
    expect(message.reasoning_content?.length).toBeGreaterThan(0);
    const calls = message.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    expect(calls[0]?.id).toMatch(/^call_00_[0-9A-Za-z]{24}$/);
    expect(calls[0]?.type).toBe("function");
    expect(calls[0]?.function.name).toBe("get_weather");
    const args = JSON.parse(calls[0]?.function.arguments ?? "") as {
      city: string;
      unit: string;
      days: number;
    };
    expect(typeof args.city).toBe("string");
    expect(["celsius", "fahrenheit"]).toContain(args.unit);
    expect(args.days).toBeGreaterThanOrEqual(1);
    expect(args.days).toBeLessThanOrEqual(7);
  });

  it("answers in text when no tool is mentioned, or tool_choice is none", async () => {
    expect((await call(chatBody({ tools: [weather], messages: ask("Hello there") }))).finish).toBe("stop");
    const none = await call(
      chatBody({ tools: [weather], tool_choice: "none", messages: ask("get_weather now") }),
    );
    expect(none.finish).toBe("stop");
    expect(none.message.tool_calls).toBeUndefined();
  });

  it("forces a call with required or a named function, and calls every mentioned tool", async () => {
    const required = await call(
      chatBody({ tools: [weather, search], tool_choice: "required", messages: ask("Hi") }),
    );
    expect(required.message.tool_calls).toHaveLength(1);
    const named = await call(
      chatBody({
        tools: [weather, search],
        tool_choice: { type: "function", function: { name: "web_search" } },
      }),
    );
    expect(named.message.tool_calls?.[0]?.function.name).toBe("web_search");
    const both = await call(
      chatBody({ tools: [weather, search], messages: ask("web_search then get_weather") }),
    );
    expect(both.message.tool_calls?.map((c) => [c.index, c.function.name])).toEqual([
      [0, "get_weather"],
      [1, "web_search"],
    ]);
    expect(both.message.tool_calls?.[1]?.id).toMatch(/^call_01_/);
  });

  it("streams the call: id/type/name with empty arguments first, then argument fragments", async () => {
    const res = await post(
      fastSim(),
      "/chat/completions",
      chatBody({
        stream: true,
        stream_options: { include_usage: true },
        tools: [weather],
        messages: ask("get_weather Oslo"),
      }),
    );
    const cs = chunks(await res.text());
    const toolChunks = cs.filter((c) => c.choices[0]?.delta.tool_calls);
    const head = toolChunks[0]?.choices[0]?.delta.tool_calls?.[0];
    expect(head).toEqual({
      index: 0,
      id: expect.stringMatching(/^call_00_/),
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    const fragments = toolChunks.slice(1).map((c) => c.choices[0]?.delta.tool_calls?.[0]);
    for (const f of fragments) expect(Object.keys(f ?? {})).toEqual(["index", "function"]);
    const args = fragments.map((f) => f?.function.arguments).join("");
    expect(() => JSON.parse(args)).not.toThrow();
    const last = cs.at(-1);
    expect(last?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(last?.choices[0]?.delta).toEqual({ content: "", reasoning_content: null });
    expect(last?.usage).toMatchObject({
      completion_tokens_details: { reasoning_tokens: expect.any(Number) },
    });
  });

  it("uses call_<i>_<uuid> ids in the legacy era", async () => {
    const res = await post(
      fastSim({ era: "legacy" }),
      "/chat/completions",
      chatBody({ model: "deepseek-chat", tools: [weather], messages: ask("get_weather") }),
    );
    const json = (await res.json()) as { choices: Array<{ message: Message }> };
    expect(json.choices[0]?.message.tool_calls?.[0]?.id).toMatch(/^call_0_[0-9a-f-]{36}$/);
  });

  it("continues with text after the tool result when reasoning_content is passed back", async () => {
    const messages = [
      { role: "user", content: "get_weather in Lima" },
      {
        role: "assistant",
        content: "",
        reasoning_content: "Need the weather.",
        tool_calls: [
          { id: "call_00_x", type: "function", function: { name: "get_weather", arguments: "{}" } },
        ],
      },
      { role: "tool", tool_call_id: "call_00_x", content: '{"temp": 20}' },
    ];
    expect((await call(chatBody({ tools: [weather], messages }))).finish).toBe("stop");
  });
});
