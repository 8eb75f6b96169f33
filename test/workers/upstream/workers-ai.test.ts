import { describe, expect, it } from "vitest";
import type { PlanStep } from "../../../src/routing/plan";
import type { UpstreamCall } from "../../../src/upstream/providers/types";
import { workersAiProvider } from "../../../src/upstream/providers/workers-ai";

const step: PlanStep = {
  pool: "workers-ai",
  provider: "workers-ai",
  model: "deepseek-r1-distill",
  upstreamModel: "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
  disableThinking: false,
};
const target = { name: "workers-ai", weight: 1 };

function call(stream: boolean): UpstreamCall {
  return {
    endpoint: "chat",
    body: {
      model: "deepseek-r1-distill",
      messages: [{ role: "user", content: "2+2?" }],
      max_tokens: 50,
      stream,
    },
    rawBody: "",
    stream,
    beta: false,
    step,
  };
}

/** A stub of the AI binding that records its calls and answers like Workers AI's classic models. */
function stubAi(answer: unknown) {
  const calls: Array<{ model: string; inputs: Record<string, unknown> }> = [];
  return {
    calls,
    env: {
      AI: {
        async run(model: string, inputs: Record<string, unknown>) {
          calls.push({ model, inputs });
          return answer;
        },
      },
    },
  };
}

const classicSse = [
  'data: {"response":"<think>two plus","p":"ab"}\n\n',
  'data: {"response":" two</think>It is","p":"abc"}\n\n',
  'data: {"response":" 4."}\n\n',
  'data: {"response":"","usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}\n\n',
  "data: [DONE]\n\n",
];

describe("Workers AI adapter", () => {
  it("normalises the classic SSE into DeepSeek chunks: role first, reasoning split, usage on the finish chunk", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const line of classicSse) controller.enqueue(new TextEncoder().encode(line));
        controller.close();
      },
    });
    const ai = stubAi(stream);
    const response = await workersAiProvider.send(call(true), target, ai.env, new AbortController().signal);
    expect(ai.calls[0]).toMatchObject({
      model: "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
      inputs: { stream: true, max_tokens: 50 },
    });
    const events = (await response.text())
      .split("\n\n")
      .filter(Boolean)
      .map((block) => block.slice(6));
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    const reasoning = chunks.map((c) => c.choices[0].delta.reasoning_content ?? "").join("");
    const content = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    expect(reasoning).toBe("two plus two");
    expect(content).toBe("It is 4.");
    const last = chunks.at(-1);
    expect(last.choices[0].finish_reason).toBe("stop");
    expect(last.usage).toMatchObject({
      prompt_tokens: 9,
      completion_tokens: 12,
      prompt_cache_hit_tokens: 0,
      prompt_cache_miss_tokens: 9,
    });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(
      chunks.every((c) => c.model === "deepseek-r1-distill" && c.object === "chat.completion.chunk"),
    ).toBe(true);
  });

  it("normalises a classic non-streamed answer", async () => {
    const ai = stubAi({
      response: "<think>easy</think>4",
      usage: { prompt_tokens: 9, completion_tokens: 3 },
    });
    const response = await workersAiProvider.send(call(false), target, ai.env, new AbortController().signal);
    const body = (await response.json()) as {
      object: string;
      choices: Array<{ message: Record<string, unknown>; finish_reason: string }>;
    };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]?.message).toMatchObject({
      role: "assistant",
      content: "4",
      reasoning_content: "easy",
    });
    expect(body.choices[0]?.finish_reason).toBe("stop");
  });

  it("turns a capacity error into a 503 and anything else into a 502", async () => {
    const failing = (message: string) => ({ AI: { run: async () => Promise.reject(new Error(message)) } });
    expect(
      (
        await workersAiProvider.send(
          call(false),
          target,
          failing("3040: Capacity temporarily exceeded"),
          new AbortController().signal,
        )
      ).status,
    ).toBe(503);
    expect(
      (
        await workersAiProvider.send(
          call(false),
          target,
          failing("5007: No such model"),
          new AbortController().signal,
        )
      ).status,
    ).toBe(502);
  });

  it("refuses to run without an AI binding", async () => {
    await expect(
      workersAiProvider.send(call(false), target, {}, new AbortController().signal),
    ).rejects.toMatchObject({ code: "configuration_error" });
  });
});
