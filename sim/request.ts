import {
  bool,
  DecodeFailure,
  type Decoder,
  f32,
  formatPath,
  json,
  opt,
  seq,
  str,
  struct,
  tagged,
  u32,
  untagged,
  variant,
} from "./decode";
import { deserializeFailed, jsonSyntax, type SimError } from "./errors";
import { lineColumn, valueEndIndex } from "./json-pos";
import type { Era } from "./options";

export type ContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };
export type Content = string | ContentPart[];

export interface ToolCallIn {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: "system"; content: Content; name?: string | undefined }
  | { role: "user"; content: Content; name?: string | undefined }
  | {
      role: "assistant";
      content?: Content | undefined;
      name?: string | undefined;
      reasoning_content?: string | undefined;
      prefix?: boolean | undefined;
      tool_calls?: ToolCallIn[] | undefined;
    }
  | { role: "tool"; content: Content; tool_call_id: string };

export interface ToolDef {
  type: "function";
  function: {
    name: string;
    description?: string | undefined;
    parameters?: unknown;
    strict?: boolean | undefined;
  };
}

export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

export type ReasoningEffort = "minimal" | "low" | "medium" | "high" | "xhigh" | "max" | "ultra";

interface SamplingFields {
  model: string;
  max_tokens?: number | undefined;
  stop?: string | string[] | undefined;
  stream?: boolean | undefined;
  stream_options?: { include_usage?: boolean | undefined } | undefined;
  temperature?: number | undefined;
  top_p?: number | undefined;
  frequency_penalty?: number | undefined;
  presence_penalty?: number | undefined;
}

export interface ChatRequest extends SamplingFields {
  messages: ChatMessage[];
  response_format?: { type: "text" | "json_object" } | undefined;
  tools?: ToolDef[] | undefined;
  tool_choice?: ToolChoice | undefined;
  logprobs?: boolean | undefined;
  top_logprobs?: number | undefined;
  thinking?: { type: "enabled" | "disabled" } | undefined;
  reasoning_effort?: ReasoningEffort | undefined;
  user_id?: string | undefined;
}

export interface FimRequest extends SamplingFields {
  prompt: string;
  suffix?: string | undefined;
  echo?: boolean | undefined;
  logprobs?: number | undefined;
  thinking?: { type: "enabled" | "disabled" } | undefined;
}

function map<A, B>(inner: Decoder<A>, f: (a: A) => B): Decoder<B> {
  return (v, path) => f(inner(v, path));
}

const textPart = struct("TextPart", { text: str });
const imagePart = struct("ImagePart", { image_url: struct("ImageUrl", { url: str, detail: opt(str) }) });

function contentDecoder(era: Era): Decoder<Content> {
  if (era === "legacy") return str;
  const parts: Record<string, Decoder<ContentPart>> = {
    text: map(textPart, (p) => ({ type: "text", text: p.text })),
  };
  if (era === "v41")
    parts.image_url = map(imagePart, (p) => ({ type: "image_url", image_url: { url: p.image_url.url } }));
  return untagged<Content>("ChatCompletionRequestContent", [str, seq(tagged("ContentPart", "type", parts))]);
}

const toolCallIn = struct("ToolCall", {
  id: str,
  type: variant("ToolType", ["function"]),
  function: struct("FunctionCall", { name: str, arguments: str }),
});

function messageDecoder(era: Era): Decoder<ChatMessage> {
  const content = contentDecoder(era);
  return tagged<ChatMessage>("ChatCompletionRequestMessage", "role", {
    system: map(struct("SystemMessage", { content, name: opt(str) }), (m) => ({ role: "system", ...m })),
    user: map(struct("UserMessage", { content, name: opt(str) }), (m) => ({ role: "user", ...m })),
    assistant: map(
      struct("AssistantMessage", {
        content: opt(content),
        name: opt(str),
        reasoning_content: opt(str),
        prefix: opt(bool),
        tool_calls: opt(seq(toolCallIn)),
      }),
      (m) => ({ role: "assistant", ...m }),
    ),
    tool: map(struct("ToolMessage", { content, tool_call_id: str }), (m) => ({ role: "tool", ...m })),
  });
}

const toolDef = struct("ChatCompletionTool", {
  type: variant("ToolType", ["function"]),
  function: struct("FunctionObject", {
    name: str,
    description: opt(str),
    parameters: opt(json),
    strict: opt(bool),
  }),
});

const toolChoice: Decoder<ToolChoice> = untagged<ToolChoice>("ChatCompletionToolChoice", [
  variant("ToolChoiceMode", ["none", "auto", "required"]),
  struct("NamedToolChoice", {
    type: variant("ToolType", ["function"]),
    function: struct("FunctionName", { name: str }),
  }),
]);

const thinking = struct("Thinking", { type: variant("ThinkingType", ["enabled", "disabled"]) });
const effort = variant<ReasoningEffort>("ReasoningEffort", [
  "minimal",
  "low",
  "medium",
  "high",
  "xhigh",
  "max",
  "ultra",
]);

/** A field the era does not know: serde skips it whatever it holds. */
const ignored: Decoder<undefined> = Object.assign(() => undefined, { optional: true as const });

const sampling = {
  model: str,
  max_tokens: opt(u32),
  stop: opt(untagged<string | string[]>("StopSequences", [str, seq(str)])),
  stream: opt(bool),
  stream_options: opt(struct("StreamOptions", { include_usage: opt(bool) })),
  temperature: opt(f32),
  top_p: opt(f32),
  frequency_penalty: opt(f32),
  presence_penalty: opt(f32),
};

function memo<T>(build: (era: Era) => Decoder<T>): (era: Era) => Decoder<T> {
  const built = new Map<Era, Decoder<T>>();
  return (era) => {
    const d = built.get(era) ?? build(era);
    built.set(era, d);
    return d;
  };
}

/** The era's chat request decoder; `thinking`/`reasoning_effort` are unknown (ignored) fields before V4. */
export const chatDecoder = memo((era): Decoder<ChatRequest> => {
  const legacy = era === "legacy";
  return struct("ChatCompletionRequest", {
    ...sampling,
    messages: seq(messageDecoder(era)),
    response_format: opt(
      struct("ResponseFormat", { type: variant("ResponseFormatType", ["text", "json_object"]) }),
    ),
    tools: opt(seq(toolDef)),
    tool_choice: opt(toolChoice),
    logprobs: opt(bool),
    top_logprobs: opt(u32),
    user_id: opt(str),
    thinking: legacy ? ignored : opt(thinking),
    reasoning_effort: legacy ? ignored : opt(effort),
  });
});

export const fimDecoder = memo((era): Decoder<FimRequest> => {
  return struct("CompletionRequest", {
    ...sampling,
    prompt: str,
    suffix: opt(str),
    echo: opt(bool),
    logprobs: opt(u32),
    thinking: era === "legacy" ? ignored : opt(thinking),
  });
});

type Parsed<T> = { ok: true; value: T; raw: unknown } | { ok: false; error: SimError; raw?: unknown };

/** serde's wording for an error at `index` of `text` reported by V8. */
function syntaxDetail(text: string, message: string): string {
  if (text.trim() === "") return `EOF while parsing a value at ${lineColumn(text, text.length)}`;
  const pos = /position (\d+)/.exec(message)?.[1];
  if (pos === undefined) return `EOF while parsing a value at ${lineColumn(text, text.length - 1)}`;
  return `expected value at ${lineColumn(text, Number(pos))}`;
}

/** Parses and decodes a request body the way DeepSeek's axum/serde front does. */
export function parseBody<T>(text: string, decoder: Decoder<T>, era: Era): Parsed<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: jsonSyntax(syntaxDetail(text, e instanceof Error ? e.message : "")) };
  }
  try {
    return { ok: true, value: decoder(raw, []), raw };
  } catch (e) {
    if (!(e instanceof DecodeFailure)) throw e;
    return { ok: false, error: deserializeError(text, e, era), raw };
  }
}

export function deserializeError(text: string, e: DecodeFailure, era: Era): SimError {
  const prefix = e.path.length > 0 ? `${formatPath(e.path)}: ` : "";
  const at = valueEndIndex(text, e.at) ?? text.length - 1;
  return deserializeFailed(`${prefix}${e.message} at ${lineColumn(text, at)}`, era === "legacy" ? 422 : 400);
}
