import { describe, expect, it } from "vitest";
import { fastSim, post } from "./helpers";

const KEY = "sk-test0000000000000000000000000001";
const API_KEY = { "x-api-key": KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" };

function message(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: "deepseek-flash",
    max_tokens: 256,
    messages: [{ role: "user", content: "Explain the cache in one paragraph." }],
    ...overrides,
  };
}

/** An SSE body's events as [name, data] pairs. */
function namedEvents(text: string): Array<[string, Record<string, unknown>]> {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event: "))
    .map((block) => {
      const [name, data] = block.split("\n");
      return [name?.slice(7) ?? "", JSON.parse(data?.slice(6) ?? "{}") as Record<string, unknown>];
    });
}

async function errorMessage(response: Response): Promise<string> {
  return ((await response.json()) as { error: { message: string } }).error.message;
}

describe("the Anthropic base (/anthropic/v1/messages)", () => {
  it("takes x-api-key, thinks by default and signs the thinking block with the message id", async () => {
    const response = await post(fastSim(), "/anthropic/v1/messages", message(), { headers: API_KEY });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      id: string;
      model: string;
      content: Array<{ type: string; signature?: string }>;
      stop_reason: string;
      usage: Record<string, number>;
    };
    expect(body.content[0]).toMatchObject({ type: "thinking", signature: body.id });
    expect(body.stop_reason).toBe("end_turn");
    expect(body.usage).toMatchObject({ cache_creation_input_tokens: 0 });
    expect(body.usage.input_tokens).toBeGreaterThan(0);
  });

  it("streams named events in Anthropic's order, with no [DONE]", async () => {
    const response = await post(fastSim(), "/anthropic/v1/messages", message({ stream: true }), {
      headers: API_KEY,
    });
    const text = await response.text();
    const names = namedEvents(text).map(([name]) => name);
    expect(names[0]).toBe("message_start");
    expect(names.at(-2)).toBe("message_delta");
    expect(names.at(-1)).toBe("message_stop");
    expect(names).toContain("content_block_delta");
    expect(text).not.toContain("[DONE]");
    for (const [name, data] of namedEvents(text)) expect(data.type).toBe(name);
  });

  it("maps Claude names the way DeepSeek does and refuses other unknown names", async () => {
    const sim = fastSim();
    const opus = await post(sim, "/anthropic/v1/messages", message({ model: "claude-opus-4-1" }), {
      headers: API_KEY,
    });
    expect(((await opus.json()) as { model: string }).model).toBe("deepseek-v4-pro");
    const unknown = await post(sim, "/anthropic/v1/messages", message({ model: "gpt-4" }), {
      headers: API_KEY,
    });
    expect(unknown.status).toBe(400);
    expect(await errorMessage(unknown)).toBe("Model Not Exist");
  });

  it("refuses what DeepSeek's Anthropic front refuses, in the OpenAI-shaped envelope", async () => {
    const sim = fastSim();
    const system = await post(
      sim,
      "/anthropic/v1/messages",
      message({ messages: [{ role: "system", content: "be terse" }] }),
      { headers: API_KEY },
    );
    expect(system.status).toBe(400);
    expect(await errorMessage(system)).toContain("unknown variant `system`, expected `user` or `assistant`");

    const userId = await post(sim, "/anthropic/v1/messages", message({ metadata: { user_id: '{"a":1}' } }), {
      headers: API_KEY,
    });
    expect(await errorMessage(userId)).toContain("Invalid 'user_id'");

    const forced = await post(
      sim,
      "/anthropic/v1/messages",
      message({
        tools: [{ name: "calc", input_schema: { type: "object" } }],
        tool_choice: { type: "tool", name: "calc" },
      }),
      { headers: API_KEY },
    );
    expect(await errorMessage(forced)).toBe("Thinking mode does not support this tool_choice");
  });

  it("answers 400 when a tool turn comes back without its thinking block", async () => {
    const body = message({
      tools: [{ name: "calc", input_schema: { type: "object" } }],
      messages: [
        { role: "user", content: "Use calc" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "calc", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "4" }] },
      ],
    });
    const response = await post(fastSim(), "/anthropic/v1/messages", body, { headers: API_KEY });
    expect(response.status).toBe(400);
    expect(await errorMessage(response)).toContain("reasoning_content");
  });

  it("counts tokens (undocumented, but answered)", async () => {
    const response = await post(
      fastSim(),
      "/anthropic/v1/messages/count_tokens",
      message({ max_tokens: undefined }),
      {
        headers: API_KEY,
      },
    );
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });
});

describe("the Responses surface (/responses)", () => {
  const AUTH = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

  it("is stateless: store false, previous_response_id ignored, reasoning none turns thinking off", async () => {
    const response = await post(
      fastSim(),
      "/responses",
      {
        model: "deepseek-flash",
        input: "hi",
        store: true,
        previous_response_id: "resp_x",
        reasoning: { effort: "none" },
      },
      { headers: AUTH },
    );
    const body = (await response.json()) as {
      store: boolean;
      previous_response_id: null;
      output: Array<{ type: string }>;
    };
    expect(body.store).toBe(false);
    expect(body.previous_response_id).toBeNull();
    expect(body.output.map((item) => item.type)).toEqual(["message"]);
  });

  it("streams semantic events with sequence numbers, ending with response.completed and no [DONE]", async () => {
    const response = await post(
      fastSim(),
      "/responses",
      { model: "deepseek-flash", input: "hi", stream: true },
      { headers: AUTH },
    );
    const text = await response.text();
    const events = namedEvents(text);
    expect(events[0]?.[0]).toBe("response.created");
    expect(events.at(-1)?.[0]).toBe("response.completed");
    expect(events.map(([, data]) => data.sequence_number)).toEqual(events.map((_, i) => i));
    expect(text).not.toContain("[DONE]");
  });
});
