import { MAX_MODEL_CHARS } from "../trace";
import * as z from "../zod";

/**
 * The DeepSeek chat-completion request. Known fields are checked; unknown fields pass through untouched
 * (loose objects), because DeepSeek adds parameters between releases and clients send OpenAI-only ones.
 * Upstream-specific limits (max_tokens ranges, context length) are left to the upstream, which knows them.
 */
const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({ url: z.string().check(z.minLength(1)), detail: z.nullish(z.string()) }),
});
const contentPart = z.discriminatedUnion("type", [textPart, imagePart]);
const content = z.union([z.string(), z.array(contentPart)]);

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

const systemMessage = z.looseObject({ role: z.literal("system"), content, name: z.nullish(z.string()) });
const userMessage = z.looseObject({ role: z.literal("user"), content, name: z.nullish(z.string()) });
const assistantMessage = z.looseObject({
  role: z.literal("assistant"),
  content: z.nullish(content),
  name: z.nullish(z.string()),
  prefix: z.nullish(z.boolean()),
  reasoning_content: z.nullish(z.string()),
  tool_calls: z.nullish(z.array(toolCall)),
});
const toolMessage = z.looseObject({ role: z.literal("tool"), content, tool_call_id: z.string() });

export const chatMessage = z.discriminatedUnion(
  "role",
  [systemMessage, userMessage, assistantMessage, toolMessage],
  {
    error: "role must be one of 'system', 'user', 'assistant' or 'tool'",
  },
);

const tool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z
      .string()
      .check(z.regex(/^[a-zA-Z0-9_-]{1,64}$/, "function names are 1-64 characters of [a-zA-Z0-9_-]")),
    description: z.nullish(z.string()),
    parameters: z.nullish(z.record(z.string(), z.unknown())),
    strict: z.nullish(z.boolean()),
  }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);

/** Sampling fields DeepSeek's chat and FIM endpoints share. */
export const samplingFields = {
  stream: z.nullish(z.boolean()),
  stream_options: z.nullish(z.looseObject({ include_usage: z.nullish(z.boolean()) })),
  max_tokens: z.nullish(z.int().check(z.positive())),
  temperature: z.nullish(z.number().check(z.gte(0), z.lte(2))),
  top_p: z.nullish(z.number().check(z.gte(0), z.lte(1))),
  frequency_penalty: z.nullish(z.number().check(z.gte(-2), z.lte(2))),
  presence_penalty: z.nullish(z.number().check(z.gte(-2), z.lte(2))),
  stop: z.nullish(z.union([z.string(), z.array(z.string()).check(z.maxLength(16))])),
};

/** A model name: DeepSeek's are a few words, and a record keeps at most this many characters of one. */
export const modelName = z
  .string()
  .check(
    z.minLength(1, "model is required"),
    z.maxLength(MAX_MODEL_CHARS, `model must be at most ${MAX_MODEL_CHARS} characters`),
  );

export const chatRequest = z.looseObject({
  model: modelName,
  messages: z.array(chatMessage).check(z.minLength(1, "messages must contain at least one message")),
  ...samplingFields,
  tools: z.nullish(z.array(tool).check(z.maxLength(128))),
  tool_choice: z.nullish(toolChoice),
  response_format: z.nullish(z.looseObject({ type: z.enum(["text", "json_object"]) })),
  thinking: z.nullish(z.looseObject({ type: z.enum(["enabled", "disabled"]) })),
  reasoning_effort: z.nullish(z.enum(["minimal", "low", "medium", "high", "xhigh", "max", "ultra"])),
  logprobs: z.nullish(z.boolean()),
  top_logprobs: z.nullish(z.int().check(z.gte(0), z.lte(20))),
  user: z.nullish(z.string()),
  user_id: z.nullish(z.string().check(z.maxLength(512))),
});

export type ChatRequest = z.output<typeof chatRequest>;
export type ChatMessage = z.output<typeof chatMessage>;
