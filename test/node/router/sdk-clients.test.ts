import { createAnthropic } from "@ai-sdk/anthropic";
import { createDeepSeek } from "@ai-sdk/deepseek";
import { ChatAnthropic } from "@langchain/anthropic";
import { ChatDeepSeek } from "@langchain/deepseek";
import { APICallError, generateText, streamText, tool } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type LocalStack, startLocalStack } from "../../../scripts/stack";

/**
 * The Vercel AI SDK and LangChain, as a user points them at the router: only the base URL and the key
 * change. Real sockets to the router under workerd, the simulator as DeepSeek. (The openai and
 * Anthropic SDKs have their own suites in test/workers.)
 */
const MODEL = "deepseek-v4-flash";
const weather = z.object({ city: z.string() });

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
}, 120_000);
afterAll(() => stack?.close());

interface RequestRecord {
  outcome: string;
  estimated: boolean;
  stream: boolean;
  usage: { completionTokens: number };
}

describe("the Vercel AI SDK's DeepSeek provider", () => {
  const deepseek = () => createDeepSeek({ baseURL: stack.routerUrl, apiKey: stack.routerKey });

  it("generates text with DeepSeek's usage, cache tokens included", async () => {
    const result = await generateText({ model: deepseek()(MODEL), prompt: "Say hello." });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.finishReason).toBe("stop");
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.totalTokens).toBe((result.usage.inputTokens ?? 0) + (result.usage.outputTokens ?? 0));
    expect(result.providerMetadata?.deepseek?.promptCacheMissTokens).toBe(result.usage.inputTokens);
  });

  it("streams text to the end, with the usage of the stream's last chunk", async () => {
    const result = streamText({ model: deepseek()(MODEL), prompt: "Count to five." });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe(await result.text);
    expect(text.length).toBeGreaterThan(0);
    expect(await result.finishReason).toBe("stop");
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });

  it("calls a tool with parsed arguments and runs it", async () => {
    const result = await generateText({
      model: deepseek()(MODEL),
      prompt: "What is the weather in Paris? Use the tool.",
      tools: {
        weather: tool({
          description: "The weather in a city.",
          inputSchema: weather,
          execute: async ({ city }) => `sunny in ${city}`,
        }),
      },
      toolChoice: "required",
    });
    expect(result.finishReason).toBe("tool-calls");
    const [call] = result.toolCalls;
    expect(call?.toolName).toBe("weather");
    expect(weather.safeParse(call?.input).success).toBe(true);
    expect(result.toolResults[0]?.output).toMatch(/^sunny in /);
  });

  it("surfaces a wrong key as a 401 APICallError that names the router key, without retrying", async () => {
    const wrong = createDeepSeek({ baseURL: stack.routerUrl, apiKey: "sk-not-a-router-key" });
    const error = await generateText({ model: wrong(MODEL), prompt: "Hello" }).catch(
      (caught: unknown) => caught,
    );
    expect(APICallError.isInstance(error)).toBe(true);
    expect((error as APICallError).statusCode).toBe(401);
    expect((error as APICallError).isRetryable).toBe(false);
    expect((error as APICallError).message).toContain("router key");
  });

  it("aborted mid-stream, is recorded once, as cancelled, with its usage estimated", async () => {
    const requestId = `sdk-abort-${crypto.randomUUID()}`;
    const abort = new AbortController();
    const result = streamText({
      model: deepseek()(MODEL),
      prompt: "Tell me a long story.",
      headers: { "x-request-id": requestId },
      abortSignal: abort.signal,
      onError: () => {},
    });
    for await (const _ of result.textStream) {
      abort.abort();
      break;
    }
    const records = async () => {
      const response = await fetch(`${stack.routerUrl}/v1/requests?request_id=${requestId}`, {
        headers: { authorization: `Bearer ${stack.routerKey}` },
      });
      return ((await response.json()) as { data: RequestRecord[] }).data;
    };
    await expect.poll(async () => (await records()).length, { timeout: 10_000 }).toBe(1);
    const [record] = await records();
    expect(record).toMatchObject({ outcome: "cancelled", estimated: true, stream: true });
    expect(record?.usage.completionTokens).toBeGreaterThan(0);
  });
});

describe("the Vercel AI SDK's Anthropic provider, on the /anthropic door", () => {
  const anthropic = () =>
    createAnthropic({ baseURL: `${stack.routerUrl}/anthropic/v1`, apiKey: stack.routerKey });

  it("generates and streams text with usage", async () => {
    const generated = await generateText({
      model: anthropic()(MODEL),
      prompt: "Hello",
      maxOutputTokens: 200,
    });
    expect(generated.text.length).toBeGreaterThan(0);
    expect(generated.usage.inputTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: anthropic()(MODEL), prompt: "Hello", maxOutputTokens: 200 });
    let text = "";
    for await (const delta of streamed.textStream) text += delta;
    expect(text.length).toBeGreaterThan(0);
    expect((await streamed.usage).outputTokens).toBeGreaterThan(0);
  });
});

describe("LangChain", () => {
  const chat = () =>
    new ChatDeepSeek({ model: MODEL, apiKey: stack.routerKey, configuration: { baseURL: stack.routerUrl } });

  it("ChatDeepSeek invokes and streams, with usage metadata", async () => {
    const message = await chat().invoke("Say hello.");
    expect(String(message.content).length).toBeGreaterThan(0);
    expect(message.usage_metadata?.input_tokens).toBeGreaterThan(0);
    let text = "";
    let streamedUsage: { output_tokens: number } | undefined;
    for await (const chunk of await chat().stream("Count to five.")) {
      text += String(chunk.content);
      streamedUsage = chunk.usage_metadata ?? streamedUsage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(streamedUsage?.output_tokens).toBeGreaterThan(0);
  });

  it("ChatDeepSeek calls a bound tool", async () => {
    const withTool = chat().bindTools(
      [{ name: "weather", description: "The weather in a city.", schema: weather }],
      { tool_choice: "required" },
    );
    const message = await withTool.invoke("Weather in Paris?");
    expect(message.tool_calls?.[0]?.name).toBe("weather");
    expect(weather.safeParse(message.tool_calls?.[0]?.args).success).toBe(true);
  });

  it("ChatAnthropic invokes on the /anthropic door", async () => {
    const claude = new ChatAnthropic({
      model: MODEL,
      apiKey: stack.routerKey,
      anthropicApiUrl: `${stack.routerUrl}/anthropic`,
      maxTokens: 200,
    });
    const message = await claude.invoke("Say hello.");
    expect(message.usage_metadata?.output_tokens).toBeGreaterThan(0);
    expect(JSON.stringify(message.content).length).toBeGreaterThan(2);
  });
});
