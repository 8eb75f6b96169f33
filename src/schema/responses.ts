import * as z from "../zod";
import { type ChatMessage, type ChatRequest, modelName } from "./chat";

/**
 * The Responses request as DeepSeek serves it (api-surfaces.md §3.5). Only what the router reads is
 * checked; the body is relayed, and DeepSeek ignores what it does not know.
 */
const item = z.looseObject({
  type: z.optional(z.string()),
  role: z.optional(z.string()),
  // A message's content is text or a list of part objects; the router reads the parts to classify.
  content: z.nullish(z.union([z.string(), z.array(z.looseObject({}))])),
});

export const responsesRequest = z.looseObject({
  model: modelName,
  input: z.union([z.string(), z.array(item)]),
  instructions: z.nullish(z.string()),
  stream: z.nullish(z.boolean()),
  temperature: z.nullish(z.number().check(z.gte(0), z.lte(2))),
  max_output_tokens: z.nullish(z.int().check(z.positive())),
  tools: z.nullish(z.array(z.looseObject({ type: z.string() }))),
  tool_choice: z.nullish(z.unknown()),
  reasoning: z.nullish(z.looseObject({ effort: z.nullish(z.string()) })),
  text: z.nullish(z.looseObject({ format: z.nullish(z.looseObject({ type: z.string() })) })),
  previous_response_id: z.nullish(z.string()),
  background: z.nullish(z.boolean()),
  store: z.nullish(z.boolean()),
  conversation: z.nullish(z.unknown()),
});

export type ResponsesRequest = z.output<typeof responsesRequest>;

type Json = Record<string, unknown>;
type ContentPart = Exclude<Extract<ChatMessage, { role: "user" }>["content"], string>[number];

const EFFORTS = new Set(["minimal", "low", "medium", "high", "xhigh", "max", "ultra"]);

/**
 * The request in the router's internal terms, for classification only: instructions as the system
 * message, input messages with their text and image parts, function calls merged into the assistant
 * turn before them, outputs as tool messages, `reasoning.effort` as thinking (`none` turns it off).
 */
export function internalChat(body: ResponsesRequest): ChatRequest {
  const messages: ChatMessage[] = [];
  if (body.instructions) messages.push({ role: "system", content: body.instructions });
  if (typeof body.input === "string") messages.push({ role: "user", content: body.input });
  else for (const entry of body.input) addItem(messages, entry);
  const effort = body.reasoning?.effort;
  const tools = (body.tools ?? []).filter((t) => t.type === "function" && typeof t.name === "string");
  return {
    model: body.model,
    messages,
    max_tokens: body.max_output_tokens ?? undefined,
    stream: body.stream ?? undefined,
    temperature: body.temperature ?? undefined,
    tools: tools.map((t) => ({
      type: "function" as const,
      function: { name: String(t.name), parameters: (t.parameters as Json | undefined) ?? null },
    })),
    tool_choice: body.tool_choice === "none" ? "none" : undefined,
    thinking: effort === "none" ? { type: "disabled" } : undefined,
    reasoning_effort: effort && EFFORTS.has(effort) ? (effort as ChatRequest["reasoning_effort"]) : undefined,
    response_format: body.text?.format?.type === "json_object" ? { type: "json_object" } : undefined,
  };
}

function addItem(messages: ChatMessage[], entry: Json): void {
  if (entry.type === "function_call") {
    const call = {
      id: String(entry.call_id ?? ""),
      type: "function" as const,
      function: { name: String(entry.name ?? ""), arguments: String(entry.arguments ?? "") },
    };
    const last = messages.at(-1);
    // In place: copying the calls before it for each call made thousands of calls quadratic.
    if (last?.role !== "assistant") messages.push({ role: "assistant", content: null, tool_calls: [call] });
    else if (last.tool_calls) last.tool_calls.push(call);
    else last.tool_calls = [call];
    return;
  }
  if (entry.type === "function_call_output") {
    messages.push({
      role: "tool",
      tool_call_id: String(entry.call_id ?? ""),
      content: String(entry.output ?? ""),
    });
    return;
  }
  if (entry.type === "reasoning") {
    messages.push({ role: "assistant", content: null, reasoning_content: partsText(entry.content) });
    return;
  }
  if (entry.type !== undefined && entry.type !== "message") return;
  const role = entry.role === "assistant" ? "assistant" : entry.role === "user" ? "user" : "system";
  const content = typeof entry.content === "string" ? entry.content : parts(entry.content);
  if (role === "assistant") {
    const text = typeof content === "string" ? content : partsText(entry.content);
    const last = messages.at(-1);
    if (last?.role === "assistant" && last.content === null) last.content = text;
    else messages.push({ role, content: text });
  } else messages.push({ role, content });
}

function parts(content: unknown): ContentPart[] {
  const out: ContentPart[] = [];
  for (const part of Array.isArray(content) ? (content as Json[]) : []) {
    if (typeof part.text === "string") out.push({ type: "text", text: part.text });
    else if (part.type === "input_image")
      out.push({ type: "image_url", image_url: { url: String(part.image_url ?? part.file_id ?? "") } });
  }
  return out;
}

function partsText(content: unknown): string {
  return parts(content)
    .map((part) => (part.type === "text" ? part.text : ""))
    .join("");
}
