import { RouterError } from "../../errors";
import { normalizeUsage, OpenAiShapeNormalizer, rewriteSse } from "./normalize";
import type { Provider, ProviderEnv, UpstreamCall } from "./types";

/** The part of the Workers AI binding the router uses. */
interface WorkersAiBinding {
  run(model: string, inputs: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
}

function workersAiBinding(env: ProviderEnv): WorkersAiBinding | undefined {
  const binding: unknown = Reflect.get(env, "AI");
  return typeof binding === "object" && binding !== null && "run" in binding
    ? (binding as WorkersAiBinding)
    : undefined;
}

type Json = Record<string, unknown>;

const PASSED_OPTIONS = [
  "max_tokens",
  "temperature",
  "top_p",
  "stop",
  "tools",
  "response_format",
  "reasoning_effort",
  "frequency_penalty",
  "presence_penalty",
];

/**
 * The Workers AI binding (`@cf/deepseek-ai/*`). Its classic answers are `{response, usage}` and its
 * SSE chunks `{"response":"tok"}`; newer models answer in OpenAI's shape. Both come back as DeepSeek
 * chunks and answers, with a role chunk first and usage on the finishing chunk.
 */
export const workersAiProvider: Provider = {
  async send(call, target, env, signal) {
    const ai = workersAiBinding(env);
    if (!ai)
      throw new RouterError("configuration_error", `Workers AI target '${target.name}' has no AI binding.`);
    const inputs: Json = { messages: call.body.messages, stream: call.stream };
    for (const option of PASSED_OPTIONS)
      if (call.body[option] !== undefined && call.body[option] !== null) inputs[option] = call.body[option];
    let result: unknown;
    try {
      result = await ai.run(call.step.upstreamModel, inputs, { signal });
    } catch (error) {
      return errorResponse(error);
    }
    const model = call.step.model;
    if (call.stream) {
      if (!(result instanceof ReadableStream)) return errorResponse(new Error("Workers AI did not stream"));
      return new Response(classicStream(result, model), { headers: { "content-type": "text/event-stream" } });
    }
    return Response.json(classicAnswer(result, model, call));
  },
};

function classicStream(body: ReadableStream<Uint8Array>, model: string): ReadableStream<Uint8Array> {
  const id = crypto.randomUUID();
  const created = Math.floor(Date.now() / 1000);
  const openAiShape = new OpenAiShapeNormalizer(model);
  let sentRole = false;
  let usage: unknown;
  let finished = false;
  const chunk = (delta: Json, finishReason: string | null, extra: Json = {}): Json => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  });
  return rewriteSse(
    body,
    (raw) => {
      if (Array.isArray(raw.choices)) {
        const normalized = openAiShape.chunk(raw);
        if (raw.usage) usage = normalized.usage;
        finished ||= raw.choices.some((c) => typeof (c as Json).finish_reason === "string");
        return [normalized];
      }
      const out: Json[] = [];
      if (!sentRole) {
        sentRole = true;
        out.push(chunk({ role: "assistant", content: "" }, null));
      }
      if (raw.usage) usage = normalizeUsage(raw.usage);
      if (typeof raw.response === "string" && raw.response !== "") {
        const split = openAiShape.chunk({ choices: [{ index: 0, delta: { content: raw.response } }] });
        const delta = ((split.choices as Json[])[0]?.delta as Json) ?? {};
        out.push(chunk(delta, null));
      }
      return out;
    },
    () => (finished ? [] : [chunk({ content: "" }, "stop", { usage: usage ?? null })]),
  );
}

function classicAnswer(result: unknown, model: string, call: UpstreamCall): Json {
  const answer = (typeof result === "object" && result !== null ? result : {}) as Json;
  const normalizer = new OpenAiShapeNormalizer(model);
  if (Array.isArray(answer.choices)) return normalizer.answer(answer);
  const toolCalls = Array.isArray(answer.tool_calls) ? answer.tool_calls : undefined;
  return normalizer.answer({
    id: crypto.randomUUID(),
    object: call.endpoint === "fim" ? "text_completion" : "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: typeof answer.response === "string" ? answer.response : "",
          ...(toolCalls ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: toolCalls ? "tool_calls" : "stop",
      },
    ],
    usage: answer.usage ?? null,
  });
}

/** Workers AI signals overload as errors like "3040: Capacity temporarily exceeded". */
function errorResponse(error: unknown): Response {
  const message = error instanceof Error ? error.message : String(error);
  const overloaded = /capacity|overloaded|3040|rate limit|too many/i.test(message);
  const status = overloaded ? 503 : 502;
  return Response.json(
    {
      error: {
        message: overloaded ? "Workers AI is over capacity." : "Workers AI failed.",
        type: "upstream_error",
        param: null,
        code: "upstream_error",
      },
    },
    { status },
  );
}
