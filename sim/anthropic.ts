import { type Generated, generateChat } from "./completion";
import { deserializeFailed, invalidRequest, jsonSyntax, modelNotExist, type SimError } from "./errors";
import { findModel } from "./models";
import type { Era, SimOptions } from "./options";
import type { Prepared } from "./prepare";
import { renderChatPrompt } from "./prompt";
import type { Frame, Meta, UsageCounts } from "./render";
import type { ChatMessage, ChatRequest, ContentPart, ReasoningEffort, ToolChoice } from "./request";
import type { RecentRequest } from "./stats";
import { tokenize } from "./tokens";
import { checkContext, validateChat } from "./validate";

/**
 * DeepSeek's Anthropic-format endpoint (`/anthropic/v1/messages`, api-surfaces.md §1): the same model
 * behind a different wire format. Requests are mapped onto the chat request the rest of the simulator
 * already validates and generates for (so the reasoning round-trip rule, tool pairing, context and the
 * faults apply alike); answers are framed as Anthropic Messages with named SSE events. Errors stay in
 * DeepSeek's OpenAI-shaped envelope, as observed (§1.9).
 */

type Json = Record<string, unknown>;
type Preparation = { ok: true; prepared: Prepared } | { ok: false; error: SimError };

const USER_ID = /^[a-zA-Z0-9_-]+$/;
const EFFORTS = new Set(["minimal", "low", "medium", "high", "xhigh", "max", "ultra"]);

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Claude names as DeepSeek maps them (§1.3): opus → pro, other claude → flash; V4.1 refuses other unknowns. */
function servedModel(era: Era, requested: string): string | undefined {
  if (findModel(era, requested)) return requested;
  const flash = era === "v41" ? "deepseek-flash" : "deepseek-v4-flash";
  if (requested.startsWith("claude-opus")) return "deepseek-v4-pro";
  if (requested.startsWith("claude")) return flash;
  return era === "v41" ? undefined : flash;
}

function text(blocks: unknown): string {
  if (typeof blocks === "string") return blocks;
  if (!Array.isArray(blocks)) return "";
  return blocks.map((b) => (isObject(b) && b.type === "text" ? String(b.text ?? "") : "")).join("");
}

function imageUrl(source: unknown): string {
  if (!isObject(source)) return "";
  if (source.type === "base64") return `data:${String(source.media_type)};base64,${String(source.data)}`;
  return String(source.url ?? source.file_id ?? "");
}

function userMessages(content: unknown, vision: boolean): ChatMessage[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const blocks = Array.isArray(content) ? content.filter(isObject) : [];
  const out: ChatMessage[] = blocks
    .filter((b) => b.type === "tool_result")
    .map((b) => ({ role: "tool", tool_call_id: String(b.tool_use_id ?? ""), content: text(b.content) }));
  const parts: ContentPart[] = [];
  for (const b of blocks) {
    if (b.type === "text") parts.push({ type: "text", text: String(b.text ?? "") });
    // Models without vision replace an image with placeholder text (§1.4).
    else if (b.type === "image")
      parts.push(
        vision
          ? { type: "image_url", image_url: { url: imageUrl(b.source) } }
          : { type: "text", text: "[image]" },
      );
  }
  if (parts.length > 0) out.push({ role: "user", content: parts });
  return out;
}

function assistantMessage(content: unknown): ChatMessage {
  if (typeof content === "string") return { role: "assistant", content };
  const blocks = Array.isArray(content) ? content.filter(isObject) : [];
  const thinking = blocks.filter((b) => b.type === "thinking");
  const calls = blocks.filter((b) => b.type === "tool_use");
  return {
    role: "assistant",
    content: text(blocks),
    ...(thinking.length > 0
      ? { reasoning_content: thinking.map((b) => String(b.thinking ?? "")).join("") }
      : {}),
    ...(calls.length > 0
      ? {
          tool_calls: calls.map((b) => ({
            id: String(b.id ?? ""),
            type: "function" as const,
            function: { name: String(b.name ?? ""), arguments: JSON.stringify(b.input ?? {}) },
          })),
        }
      : {}),
  };
}

function toolChoiceOf(choice: unknown): ToolChoice | undefined {
  if (!isObject(choice)) return undefined;
  if (choice.type === "tool") return { type: "function", function: { name: String(choice.name ?? "") } };
  // `any` is handled as auto (create-message reference, §1.4).
  return choice.type === "none" ? "none" : "auto";
}

type Mapped = { ok: true; req: ChatRequest; forcedTool: boolean } | { ok: false; error: SimError };

/** The Anthropic body as a chat request, with the refusals DeepSeek's Anthropic front makes itself. */
function toChat(era: Era, body: Json, requireMaxTokens: boolean): Mapped {
  if (typeof body.model !== "string") return fail(deserializeFailed("missing field `model`", 400));
  if (requireMaxTokens && typeof body.max_tokens !== "number")
    return fail(deserializeFailed("missing field `max_tokens`", 400));
  if (!Array.isArray(body.messages)) return fail(deserializeFailed("missing field `messages`", 400));
  const model = servedModel(era, body.model);
  if (!model) return fail(modelNotExist());
  const vision = findModel(era, model)?.vision ?? false;
  const messages: ChatMessage[] = [];
  const system = text(body.system);
  if (system) messages.push({ role: "system", content: system });
  for (const [i, m] of body.messages.entries()) {
    const role = isObject(m) ? m.role : undefined;
    if (role === "user") messages.push(...userMessages(m.content, vision));
    else if (role === "assistant") messages.push(assistantMessage(m.content));
    else
      return fail(
        deserializeFailed(
          `messages[${i}].role: unknown variant \`${String(role)}\`, expected \`user\` or \`assistant\``,
          400,
        ),
      );
  }
  const userId = isObject(body.metadata) ? body.metadata.user_id : undefined;
  if (typeof userId === "string" && (!USER_ID.test(userId) || userId.length > 512))
    return fail(
      invalidRequest(
        "Invalid 'user_id': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
      ),
    );
  const thinking = isObject(body.thinking) ? body.thinking.type : undefined;
  const effort = isObject(body.output_config) ? body.output_config.effort : undefined;
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  const tool_choice = toolChoiceOf(body.tool_choice);
  const req: ChatRequest = {
    model,
    messages,
    max_tokens: typeof body.max_tokens === "number" ? body.max_tokens : undefined,
    stream: body.stream === true,
    stop: Array.isArray(body.stop_sequences) ? body.stop_sequences.map(String) : undefined,
    tools: tools.length
      ? tools.map((t) => ({
          type: "function",
          function: {
            name: String(t.name),
            description: t.description as string | undefined,
            parameters: t.input_schema,
          },
        }))
      : undefined,
    tool_choice,
    thinking: thinking === "disabled" ? { type: "disabled" } : thinking ? { type: "enabled" } : undefined,
    reasoning_effort:
      typeof effort === "string" && EFFORTS.has(effort) ? (effort as ReasoningEffort) : undefined,
    user_id: typeof userId === "string" ? userId : undefined,
  };
  return { ok: true, req, forcedTool: typeof tool_choice === "object" };
}

function fail(error: SimError): { ok: false; error: SimError } {
  return { ok: false, error };
}

function parse(text: string): { ok: true; body: Json } | { ok: false; error: SimError } {
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body)) return { ok: true, body };
    return fail(deserializeFailed("invalid type: expected struct MessagesRequest", 400));
  } catch {
    return fail(jsonSyntax("expected value at line 1 column 1"));
  }
}

/** A validated Anthropic request, ready for the shared admission, faults and timeline. */
export function prepareMessages(
  o: SimOptions,
  text: string,
  key: string,
  record: RecentRequest,
): Preparation {
  const parsed = parse(text);
  if (!parsed.ok) return parsed;
  record.body = parsed.body;
  const mapped = toChat(o.era, parsed.body, true);
  if (!mapped.ok) return mapped;
  const { req } = mapped;
  record.model = req.model;
  record.stream = req.stream === true;
  const checked = validateChat(o.era, req, text);
  if (!checked.ok) return checked;
  const { spec, thinking } = checked.resolved;
  if (thinking && mapped.forcedTool)
    return fail(invalidRequest("Thinking mode does not support this tool_choice"));
  const prompt = tokenize(renderChatPrompt(req, thinking));
  const overflow = checkContext(spec, prompt.length, req.max_tokens);
  if (overflow) return fail(overflow);
  return {
    ok: true,
    prepared: {
      model: spec.id,
      stream: req.stream === true,
      spec,
      thinking,
      includeUsage: false,
      prompt,
      scope: `${key}\u0000${req.user_id ?? ""}`,
      generate: (limits) => generateChat(req, checked.resolved, limits),
      frames: messageFrames,
      body: (g, meta, usage) => JSON.stringify(message(g, meta, usage)),
    },
  };
}

/** `count_tokens`, undocumented but answered (§1.11): the prompt's tokens as the messages call would bill them. */
export function countMessageTokens(
  o: SimOptions,
  text: string,
): { ok: true; tokens: number } | { ok: false; error: SimError } {
  const parsed = parse(text);
  if (!parsed.ok) return parsed;
  const mapped = toChat(o.era, parsed.body, false);
  if (!mapped.ok) return mapped;
  const checked = validateChat(o.era, mapped.req, text);
  if (!checked.ok) return checked;
  return { ok: true, tokens: tokenize(renderChatPrompt(mapped.req, checked.resolved.thinking)).length };
}

const STOP_REASONS: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
};

function usageOf(usage: UsageCounts, outputTokens: number): Json {
  return {
    input_tokens: usage.prompt - usage.hit,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: usage.hit,
    output_tokens: outputTokens,
    service_tier: "standard",
  };
}

/** DeepSeek's thinking signature is the message id (§1.5). */
function message(g: Generated, meta: Meta, usage: UsageCounts): Json {
  const content: Json[] = [];
  if (meta.thinking) content.push({ type: "thinking", thinking: g.reasoning.join(""), signature: meta.id });
  if (g.content.length > 0) content.push({ type: "text", text: g.content.join("") });
  for (const call of g.toolCalls)
    content.push({
      type: "tool_use",
      id: call.id,
      name: call.name,
      input: JSON.parse(call.pieces.join("") || "{}"),
    });
  return {
    id: meta.id,
    type: "message",
    role: "assistant",
    model: meta.model,
    content,
    stop_reason: STOP_REASONS[g.finishReason] ?? g.finishReason,
    stop_sequence: null,
    usage: usageOf(usage, g.completionTokens),
  };
}

function event(data: Json, token = false): Frame {
  return { data: `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`, token };
}

function messageFrames(g: Generated, meta: Meta, usage: UsageCounts): Frame[] {
  const head = message(g, meta, usage);
  const frames = [
    event({
      type: "message_start",
      message: { ...head, content: [], stop_reason: null, stop_sequence: null, usage: usageOf(usage, 0) },
    }),
  ];
  let index = 0;
  const block = (start: Json, deltas: Json[], close: Json[] = []) => {
    frames.push(event({ type: "content_block_start", index, content_block: start }));
    for (const delta of deltas) frames.push(event({ type: "content_block_delta", index, delta }, true));
    for (const delta of close) frames.push(event({ type: "content_block_delta", index, delta }));
    frames.push(event({ type: "content_block_stop", index }));
    index++;
  };
  if (meta.thinking)
    block(
      { type: "thinking", thinking: "", signature: "" },
      g.reasoning.map((thinking) => ({ type: "thinking_delta", thinking })),
      [{ type: "signature_delta", signature: meta.id }],
    );
  if (g.content.length > 0)
    block(
      { type: "text", text: "" },
      g.content.map((text) => ({ type: "text_delta", text })),
    );
  for (const call of g.toolCalls)
    block(
      { type: "tool_use", id: call.id, name: call.name, input: {} },
      call.pieces.map((partial_json) => ({ type: "input_json_delta", partial_json })),
    );
  frames.push(
    event({
      type: "message_delta",
      delta: { stop_reason: head.stop_reason, stop_sequence: null },
      usage: { output_tokens: g.completionTokens },
    }),
  );
  frames.push(event({ type: "message_stop" }));
  return frames;
}
