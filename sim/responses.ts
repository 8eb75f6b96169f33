import { type Generated, generateChat } from "./completion";
import { deserializeFailed, jsonSyntax, type SimError } from "./errors";
import type { SimOptions } from "./options";
import type { Prepared } from "./prepare";
import { renderChatPrompt } from "./prompt";
import type { Frame, Meta, UsageCounts } from "./render";
import type { ChatMessage, ChatRequest, ContentPart, ReasoningEffort, ToolChoice } from "./request";
import type { RecentRequest } from "./stats";
import { tokenize } from "./tokens";
import { checkContext, validateChat } from "./validate";

/**
 * DeepSeek's Responses surface (`POST /responses`, api-surfaces.md §3.5): stateless (`store` is always
 * false, `previous_response_id` silently ignored), unknown fields ignored, `reasoning.effort: "none"`
 * turns thinking off, and the stream is semantic events with a `sequence_number` and no `[DONE]`.
 * Requests map onto the chat request the simulator already validates and generates for.
 * Not recorded for this surface: whether a function call sent back without its reasoning item is
 * refused as on chat completions; the simulator accepts it.
 */

type Json = Record<string, unknown>;
type Preparation = { ok: true; prepared: Prepared } | { ok: false; error: SimError };

const EFFORTS = new Set(["minimal", "low", "medium", "high", "xhigh", "max", "ultra"]);

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parts(content: unknown): ContentPart[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  const out: ContentPart[] = [];
  for (const part of Array.isArray(content) ? content.filter(isObject) : []) {
    if (typeof part.text === "string") out.push({ type: "text", text: part.text });
    else if (part.type === "input_image")
      out.push({ type: "image_url", image_url: { url: String(part.image_url ?? part.file_id ?? "") } });
  }
  return out;
}

function text(content: unknown): string {
  return parts(content)
    .map((p) => (p.type === "text" ? p.text : ""))
    .join("");
}

/** The assistant turn function calls and reasoning merge into (DeepSeek merges adjacent items). */
function assistantTurn(messages: ChatMessage[]): Extract<ChatMessage, { role: "assistant" }> {
  const last = messages.at(-1);
  if (last?.role === "assistant") return last;
  const turn: Extract<ChatMessage, { role: "assistant" }> = { role: "assistant", content: "" };
  messages.push(turn);
  return turn;
}

function addItem(messages: ChatMessage[], item: Json): void {
  if (item.type === "function_call") {
    const turn = assistantTurn(messages);
    turn.tool_calls = [
      ...(turn.tool_calls ?? []),
      {
        id: String(item.call_id ?? ""),
        type: "function",
        function: { name: String(item.name ?? ""), arguments: String(item.arguments ?? "") },
      },
    ];
    turn.reasoning_content ??= "";
  } else if (item.type === "function_call_output") {
    messages.push({
      role: "tool",
      tool_call_id: String(item.call_id ?? ""),
      content: String(item.output ?? ""),
    });
  } else if (item.type === "reasoning") {
    assistantTurn(messages).reasoning_content = text(item.content);
  } else if (item.type === undefined || item.type === "message") {
    if (item.role === "assistant") assistantTurn(messages).content = text(item.content);
    else if (item.role === "user") messages.push({ role: "user", content: parts(item.content) });
    else messages.push({ role: "system", content: text(item.content) });
  }
}

function toolChoiceOf(choice: unknown): ToolChoice | undefined {
  if (choice === "none" || choice === "auto" || choice === "required") return choice;
  if (isObject(choice) && choice.type === "function")
    return { type: "function", function: { name: String(choice.name ?? "") } };
  return undefined;
}

function toChat(body: Json): { ok: true; req: ChatRequest } | { ok: false; error: SimError } {
  if (typeof body.model !== "string")
    return { ok: false, error: deserializeFailed("missing field `model`", 400) };
  const messages: ChatMessage[] = [];
  if (typeof body.instructions === "string") messages.push({ role: "system", content: body.instructions });
  if (typeof body.input === "string") messages.push({ role: "user", content: body.input });
  else if (Array.isArray(body.input)) for (const item of body.input.filter(isObject)) addItem(messages, item);
  else return { ok: false, error: deserializeFailed("missing field `input`", 400) };
  const reasoning = isObject(body.reasoning) ? body.reasoning.effort : undefined;
  const format = isObject(body.text) && isObject(body.text.format) ? body.text.format.type : undefined;
  const tools = Array.isArray(body.tools)
    ? body.tools.filter((t) => isObject(t) && t.type === "function")
    : [];
  return {
    ok: true,
    req: {
      model: body.model,
      messages,
      stream: body.stream === true,
      max_tokens: typeof body.max_output_tokens === "number" ? body.max_output_tokens : undefined,
      tools: tools.length
        ? tools.map((t: Json) => ({
            type: "function",
            function: {
              name: String(t.name),
              description: t.description as string | undefined,
              parameters: t.parameters,
            },
          }))
        : undefined,
      tool_choice: toolChoiceOf(body.tool_choice),
      thinking: reasoning === "none" ? { type: "disabled" } : undefined,
      reasoning_effort:
        typeof reasoning === "string" && EFFORTS.has(reasoning) ? (reasoning as ReasoningEffort) : undefined,
      response_format: format === "json_object" ? { type: "json_object" } : undefined,
    },
  };
}

export function prepareResponse(o: SimOptions, raw: string, key: string, record: RecentRequest): Preparation {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, error: jsonSyntax("expected value at line 1 column 1") };
  }
  if (!isObject(body)) return { ok: false, error: deserializeFailed("invalid type: expected struct", 400) };
  record.body = body;
  const mapped = toChat(body);
  if (!mapped.ok) return mapped;
  const { req } = mapped;
  record.model = req.model;
  record.stream = req.stream === true;
  const checked = validateChat(o.era, req, raw);
  if (!checked.ok) return checked;
  const { spec, thinking } = checked.resolved;
  const prompt = tokenize(renderChatPrompt(req, thinking));
  const overflow = checkContext(spec, prompt.length, req.max_tokens);
  if (overflow) return { ok: false, error: overflow };
  const echo = {
    instructions: body.instructions ?? null,
    tools: body.tools ?? [],
    tool_choice: body.tool_choice ?? "auto",
  };
  return {
    ok: true,
    prepared: {
      model: req.model,
      stream: req.stream === true,
      spec,
      thinking,
      includeUsage: false,
      prompt,
      scope: `${key}\u0000${typeof body.user === "string" ? body.user : ""}`,
      generate: (limits) => generateChat(req, checked.resolved, limits),
      frames: (g, meta, usage) => responseFrames(response(g, meta, usage, echo)),
      body: (g, meta, usage) => JSON.stringify(response(g, meta, usage, echo)),
    },
  };
}

function response(g: Generated, meta: Meta, usage: UsageCounts, echo: Json): Json {
  const hex = meta.id.replaceAll("-", "");
  const output: Json[] = [];
  if (meta.thinking)
    output.push({
      type: "reasoning",
      id: `rs_${hex}`,
      summary: [],
      content: [{ type: "reasoning_text", text: g.reasoning.join("") }],
    });
  if (g.content.length > 0)
    output.push({
      type: "message",
      id: `msg_${hex}`,
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: g.content.join(""), annotations: [] }],
    });
  g.toolCalls.forEach((call, i) => {
    output.push({
      type: "function_call",
      id: `fc_${hex}_${i}`,
      call_id: call.id,
      name: call.name,
      arguments: call.pieces.join(""),
      status: "completed",
    });
  });
  const complete = g.finishReason === "stop" || g.finishReason === "tool_calls";
  return {
    id: `resp_${hex}`,
    object: "response",
    created_at: meta.created,
    status: complete ? "completed" : "incomplete",
    error: null,
    incomplete_details: complete ? null : { reason: "max_output_tokens" },
    model: meta.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    store: false,
    ...echo,
    usage: {
      input_tokens: usage.prompt,
      input_tokens_details: { cached_tokens: usage.hit },
      output_tokens: g.completionTokens,
      output_tokens_details: { reasoning_tokens: g.reasoning.length },
      total_tokens: usage.prompt + g.completionTokens,
    },
  };
}

/** The semantic event stream of a response; each text or argument piece is one paced delta event. */
function responseFrames(full: Json): Frame[] {
  const frames: Frame[] = [];
  const emit = (data: Json, token = false) =>
    frames.push({
      data: `event: ${String(data.type)}\ndata: ${JSON.stringify({ ...data, sequence_number: frames.length })}\n\n`,
      token,
    });
  const pending = { ...full, status: "in_progress", output: [], usage: null, incomplete_details: null };
  emit({ type: "response.created", response: pending });
  emit({ type: "response.in_progress", response: pending });
  (full.output as Json[]).forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === "function_call") {
      emit({
        type: "response.output_item.added",
        output_index,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      for (const delta of tokenize(String(item.arguments)))
        emit({ type: "response.function_call_arguments.delta", item_id, output_index, delta }, true);
      emit({
        type: "response.function_call_arguments.done",
        item_id,
        output_index,
        name: item.name,
        arguments: item.arguments,
      });
    } else {
      const kind = item.type === "message" ? "output_text" : "reasoning_text";
      const part = (item.content as Json[])[0] as Json;
      const at = { item_id, output_index, content_index: 0 };
      const extra = kind === "output_text" ? { logprobs: [] } : {};
      emit({
        type: "response.output_item.added",
        output_index,
        item: { ...item, status: "in_progress", content: [] },
      });
      emit({ type: "response.content_part.added", ...at, part: { ...part, text: "" } });
      for (const delta of tokenize(String(part.text)))
        emit({ type: `response.${kind}.delta`, ...at, delta, ...extra }, true);
      emit({ type: `response.${kind}.done`, ...at, text: part.text, ...extra });
      emit({ type: "response.content_part.done", ...at, part });
    }
    emit({ type: "response.output_item.done", output_index, item });
  });
  emit({ type: full.status === "completed" ? "response.completed" : "response.incomplete", response: full });
  return frames;
}
