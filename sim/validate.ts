import { DecodeFailure } from "./decode";
import { contextOverflow, invalidRequest, maxTokensRange, modelNotExist, type SimError } from "./errors";
import { FIM_MAX_TOKENS, findModel, type ModelSpec } from "./models";
import type { Era } from "./options";
import {
  type ChatMessage,
  type ChatRequest,
  deserializeError,
  type FimRequest,
  type ReasoningEffort,
} from "./request";

/** How the request will be served once it passed validation. */
export interface Resolved {
  spec: ModelSpec;
  thinking: boolean;
  effort: "low" | "high" | "max";
}

type Check = SimError | undefined;

function resolveEffort(era: Era, effort: ReasoningEffort | undefined): Resolved["effort"] {
  switch (effort) {
    case "max":
    case "ultra":
      return "max";
    case "xhigh":
      return era === "v4" ? "max" : "high";
    case "minimal":
    case "low":
      return era === "v4" ? "high" : "low";
    default:
      return "high";
  }
}

function checkMaxTokens(maxTokens: number | undefined, ceiling: number): Check {
  return maxTokens !== undefined && (maxTokens < 1 || maxTokens > ceiling)
    ? maxTokensRange(ceiling)
    : undefined;
}

/** DeepSeek counts max_tokens (or the model's default) against the context window. */
export function checkContext(spec: ModelSpec, promptTokens: number, maxTokens: number | undefined): Check {
  const completion = maxTokens ?? spec.defaultMaxTokens;
  return promptTokens + completion > spec.contextLength
    ? contextOverflow(spec.contextLength, promptTokens, completion)
    : undefined;
}

/** Image parts on a model without vision fail in the content enum, as they did before V4.1. */
function checkImages(text: string, era: Era, spec: ModelSpec, messages: ChatMessage[]): Check {
  if (spec.vision) return undefined;
  const i = messages.findIndex(
    (m) => Array.isArray(m.content) && m.content.some((p) => p.type === "image_url"),
  );
  if (i < 0) return undefined;
  const message = "data did not match any variant of untagged enum ChatCompletionRequestContent";
  return deserializeError(text, new DecodeFailure(["messages", i], ["messages", i], message), era);
}

/** The 2025 deepseek-reasoner (R1) restrictions (deepseek-api.md §2.1, §3.2, §3.4). */
function checkR1(req: ChatRequest): Check {
  if (req.logprobs || req.top_logprobs !== undefined) {
    return invalidRequest("deepseek-reasoner does not support the parameter `logprobs` or `top_logprobs`");
  }
  const messages = req.messages;
  if (messages.some((m) => m.role === "assistant" && m.reasoning_content !== undefined)) {
    return invalidRequest(
      "The reasoning_content field is not allowed in input messages for deepseek-reasoner.",
    );
  }
  const first = messages.find((m) => m.role !== "system");
  if (first && first.role !== "user") {
    return invalidRequest(
      `The first message (except the system message) of deepseek-reasoner must be a user message, but an ${first.role} message detected.`,
    );
  }
  for (let i = 1; i < messages.length; i++) {
    const a = messages[i - 1]?.role;
    if (a === messages[i]?.role && (a === "user" || a === "assistant")) {
      return invalidRequest(
        `deepseek-reasoner does not support successive user or assistant messages (messages[${i - 1}] and messages[${i}] in your input). You should interleave the user/assistant messages in the message sequence.`,
      );
    }
  }
  return undefined;
}

function checkToolPairing(messages: ChatMessage[]): Check {
  const orphan = invalidRequest(
    "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
  );
  const unanswered = invalidRequest(
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. (insufficient tool messages following tool_calls message)",
  );
  let open: Set<string> | undefined;
  for (const m of messages) {
    if (m.role === "tool") {
      if (!open?.delete(m.tool_call_id)) return orphan;
      continue;
    }
    if (open && open.size > 0) return unanswered;
    open =
      m.role === "assistant" && m.tool_calls?.length ? new Set(m.tool_calls.map((c) => c.id)) : undefined;
  }
  return open && open.size > 0 ? unanswered : undefined;
}

/** In thinking mode, every assistant message of a turn that used tools must carry reasoning_content back. */
function checkReasoningRoundTrip(messages: ChatMessage[]): Check {
  const turns: ChatMessage[][] = [[]];
  for (const m of messages) {
    if (m.role === "user") turns.push([]);
    turns.at(-1)?.push(m);
  }
  for (const t of turns) {
    const assistants = t.filter((m) => m.role === "assistant");
    if (!assistants.some((m) => m.tool_calls?.length)) continue;
    if (assistants.some((m) => m.reasoning_content === undefined)) {
      return invalidRequest("The `reasoning_content` in the thinking mode must be passed back to the API.");
    }
  }
  return undefined;
}

type Validated = { ok: true; resolved: Resolved } | { ok: false; error: SimError };

const failed = (error: SimError): Validated => ({ ok: false, error });

/** Checks a decoded chat request in the order DeepSeek does (the context check follows rendering). */
export function validateChat(era: Era, req: ChatRequest, text: string): Validated {
  const spec = findModel(era, req.model);
  if (!spec) return failed(modelNotExist());
  if (req.messages.length === 0) return failed(invalidRequest("Empty input messages"));
  const usesTools = (req.tools?.length ?? 0) > 0;
  const thinking =
    spec.thinking === "always"
      ? !(spec.r1Rules && usesTools)
      : spec.thinking === "defaultOn" && req.thinking?.type !== "disabled";
  const error =
    checkImages(text, era, spec, req.messages) ??
    checkMaxTokens(req.max_tokens, spec.maxTokens) ??
    (spec.r1Rules ? checkR1(req) : undefined) ??
    checkToolPairing(req.messages) ??
    (thinking && !spec.r1Rules ? checkReasoningRoundTrip(req.messages) : undefined);
  if (error) return failed(error);
  return { ok: true, resolved: { spec, thinking, effort: resolveEffort(era, req.reasoning_effort) } };
}

export function validateFim(era: Era, req: FimRequest): Validated {
  const spec = findModel(era, req.model);
  if (!spec) return failed(modelNotExist());
  if (!spec.fim) return failed(invalidRequest(`${spec.id} does not support FIM completion`));
  if (req.thinking?.type === "enabled") {
    return failed(invalidRequest("FIM completion is only available in non-thinking mode"));
  }
  const error = checkMaxTokens(req.max_tokens, FIM_MAX_TOKENS);
  if (error) return failed(error);
  return { ok: true, resolved: { spec, thinking: false, effort: "high" } };
}
