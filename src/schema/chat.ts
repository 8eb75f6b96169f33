import { z } from "zod";

/**
 * The DeepSeek chat-completion request. Known fields are checked; unknown fields pass through untouched
 * (loose objects), because DeepSeek adds parameters between releases and clients send OpenAI-only ones.
 * Upstream-specific limits (max_tokens ranges, context length) are left to the upstream, which knows them.
 */
const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.string().nullish() }),
});
export const contentPart = z.discriminatedUnion("type", [textPart, imagePart]);
const content = z.union([z.string(), z.array(contentPart)]);

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

const systemMessage = z.looseObject({ role: z.literal("system"), content, name: z.string().nullish() });
const userMessage = z.looseObject({ role: z.literal("user"), content, name: z.string().nullish() });
const assistantMessage = z.looseObject({
  role: z.literal("assistant"),
  content: content.nullish(),
  name: z.string().nullish(),
  prefix: z.boolean().nullish(),
  reasoning_content: z.string().nullish(),
  tool_calls: z.array(toolCall).nullish(),
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
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "function names are 1-64 characters of [a-zA-Z0-9_-]"),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);

const stop = z.union([z.string(), z.array(z.string()).max(16)]);

export const streamOptions = z.looseObject({ include_usage: z.boolean().nullish() });

export const chatRequest = z.looseObject({
  model: z.string().min(1, "model is required"),
  messages: z.array(chatMessage).min(1, "messages must contain at least one message"),
  stream: z.boolean().nullish(),
  stream_options: streamOptions.nullish(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  stop: stop.nullish(),
  tools: z.array(tool).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  response_format: z.looseObject({ type: z.enum(["text", "json_object"]) }).nullish(),
  thinking: z.looseObject({ type: z.enum(["enabled", "disabled"]) }).nullish(),
  reasoning_effort: z.enum(["minimal", "low", "medium", "high", "xhigh", "max", "ultra"]).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  user: z.string().nullish(),
  user_id: z.string().max(512).nullish(),
});

export type ChatRequest = z.output<typeof chatRequest>;
export type ChatMessage = z.output<typeof chatMessage>;
