import { type ChatMessage, type ChatRequest, modelName } from "./chat";

type ContentPart = Exclude<Extract<ChatMessage, { role: "user" }>["content"], string>[number];

import * as z from "../zod";

/**
 * The Anthropic Messages request (api-surfaces.md §2.2). Only what the router reads is checked; every
 * other field and block passes through to DeepSeek untouched (loose objects), since the body is relayed.
 */
const block = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(block)]);
const message = z.looseObject({
  role: z.enum(["user", "assistant"], { error: "role must be 'user' or 'assistant'" }),
  content,
});
const tool = z.looseObject({ name: z.string().check(z.minLength(1)) });

const promptFields = {
  model: modelName,
  messages: z.array(message).check(z.minLength(1, "messages must contain at least one message")),
  system: z.optional(z.union([z.string(), z.array(block)])),
  tools: z.optional(z.array(tool)),
  tool_choice: z.optional(
    z.looseObject({ type: z.enum(["auto", "any", "tool", "none"]), name: z.optional(z.string()) }),
  ),
  thinking: z.optional(z.looseObject({ type: z.enum(["enabled", "disabled", "adaptive"]) })),
  output_config: z.optional(z.looseObject({ effort: z.optional(z.string()) })),
};

export const messagesRequest = z.looseObject({
  ...promptFields,
  max_tokens: z.int().check(z.positive()),
  stream: z.optional(z.boolean()),
  temperature: z.optional(z.number().check(z.gte(0), z.lte(2))),
  top_p: z.optional(z.number().check(z.gte(0), z.lte(1))),
  stop_sequences: z.optional(z.array(z.string())),
  metadata: z.optional(z.looseObject({ user_id: z.nullish(z.string()) })),
});

/** count_tokens takes the prompt fields only (no max_tokens, no stream). */
export const countTokensRequest = z.looseObject(promptFields);

export type MessagesRequest = z.output<typeof messagesRequest>;
export type CountTokensRequest = z.output<typeof countTokensRequest>;

type Json = Record<string, unknown>;

const EFFORTS = new Set(["minimal", "low", "medium", "high", "xhigh", "max", "ultra"]);

/**
 * The request in the router's internal (chat-completions) terms, for classification only: system text,
 * text and image blocks as content parts, thinking blocks as reasoning_content, tool_use as tool_calls,
 * tool_result as tool messages; tools, tool_choice, thinking and effort mapped as LiteLLM maps them.
 */
export function internalChat(
  body: CountTokensRequest & { max_tokens?: number; stream?: boolean },
): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = typeof body.system === "string" ? body.system : textOf(body.system);
  if (system) messages.push({ role: "system", content: system });
  for (const turn of body.messages) messages.push(...internalMessages(turn.role, turn.content));
  const effort = body.output_config?.effort;
  const choice = body.tool_choice;
  return {
    model: body.model,
    messages,
    max_tokens: body.max_tokens,
    stream: body.stream,
    temperature: typeof body.temperature === "number" ? body.temperature : undefined,
    tools: body.tools?.map((t) => ({
      type: "function" as const,
      function: { name: t.name, parameters: (t.input_schema as Json | undefined) ?? null },
    })),
    tool_choice:
      choice?.type === "any"
        ? "required"
        : choice?.type === "tool"
          ? { type: "function", function: { name: choice.name ?? "" } }
          : choice?.type,
    thinking: body.thinking
      ? { type: body.thinking.type === "disabled" ? "disabled" : "enabled" }
      : undefined,
    reasoning_effort: effort && EFFORTS.has(effort) ? (effort as ChatRequest["reasoning_effort"]) : undefined,
  };
}

function internalMessages(role: "user" | "assistant", content: string | Json[]): ChatMessage[] {
  if (typeof content === "string") return [{ role, content }];
  if (role === "assistant") {
    const toolCalls = content
      .filter((b) => b.type === "tool_use")
      .map((b) => ({
        id: String(b.id ?? ""),
        type: "function" as const,
        function: { name: String(b.name ?? ""), arguments: JSON.stringify(b.input ?? {}) },
      }));
    const reasoning = content.filter((b) => b.type === "thinking").map((b) => String(b.thinking ?? ""));
    return [
      {
        role,
        content: textOf(content) || null,
        ...(reasoning.length > 0 ? { reasoning_content: reasoning.join("") } : {}),
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      },
    ];
  }
  const out: ChatMessage[] = content
    .filter((b) => b.type === "tool_result")
    .map((b) => ({
      role: "tool" as const,
      tool_call_id: String(b.tool_use_id ?? ""),
      content: typeof b.content === "string" ? b.content : textOf(b.content),
    }));
  const parts: ContentPart[] = [];
  for (const b of content) {
    if (b.type === "text" && typeof b.text === "string") parts.push({ type: "text", text: b.text });
    else if (b.type === "image") parts.push({ type: "image_url", image_url: { url: imageUrl(b.source) } });
  }
  if (parts.length > 0) out.push({ role: "user", content: parts });
  return out;
}

function textOf(blocks: unknown): string {
  if (!Array.isArray(blocks)) return "";
  return blocks
    .map((b: Json) => (b?.type === "text" && typeof b.text === "string" ? b.text : ""))
    .filter((text) => text !== "")
    .join("\n");
}

function imageUrl(source: unknown): string {
  const s = (source ?? {}) as Json;
  if (s.type === "base64")
    return `data:${String(s.media_type ?? "image/png")};base64,${String(s.data ?? "")}`;
  if (s.type === "url") return String(s.url ?? "");
  return `file:${String(s.file_id ?? "")}`;
}
