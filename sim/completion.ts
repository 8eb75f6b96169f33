import { code, detectLanguage, promptWords, prose, reasoning } from "./generate";
import { createRng, fnv1a, type Rng } from "./hash";
import { toolCallId } from "./ids";
import { jsonAnswer, valueFromSchema } from "./json-gen";
import type { Era } from "./options";
import { messageText } from "./prompt";
import type { ChatRequest, FimRequest, ToolDef } from "./request";
import { tokenize } from "./tokens";
import type { Resolved } from "./validate";

export type FinishReason = "stop" | "length" | "tool_calls" | "insufficient_system_resource";

export interface ToolCallOut {
  id: string;
  name: string;
  /** Argument fragments, one token each; joined they are the arguments JSON. */
  pieces: string[];
}

/** Everything the model "says", as token pieces, before it is framed as JSON or SSE. */
export interface Generated {
  reasoning: string[];
  content: string[];
  toolCalls: ToolCallOut[];
  finishReason: FinishReason;
  completionTokens: number;
}

export interface GenLimits {
  era: Era;
  minAnswerTokens: number;
  maxAnswerTokens: number;
  /** Injected "insufficient_system_resource": stop after this many completion tokens ("half" of the answer). */
  cutAt?: number | "half" | undefined;
}

const KEYWORDS = new Set([
  "def",
  "return",
  "for",
  "while",
  "class",
  "import",
  "from",
  "const",
  "let",
  "function",
]);
const EFFORT_FACTOR = { low: 0.5, high: 1, max: 2 } as const;

/** Seed of the answer: same model + messages + answer-shaping params → same answer (stream or not). */
function chatSeed(req: ChatRequest, resolved: Resolved): number {
  const { model, messages, tools, tool_choice, response_format } = req;
  const shape = { model, messages, tools, tool_choice, response_format };
  return fnv1a(JSON.stringify({ ...shape, thinking: resolved.thinking, effort: resolved.effort }));
}

function sub(seed: number, label: string): Rng {
  return createRng(fnv1a(label, seed));
}

function mentions(text: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9_-])${escaped}($|[^A-Za-z0-9_-])`, "i").test(text);
}

/**
 * The deterministic tool-call rule: `tool_choice` "none" → no call; a named function → that one;
 * otherwise every tool whose name the last message (a user message) mentions; "required" with no
 * mention → one tool picked by the seed.
 */
function chooseTools(req: ChatRequest, rng: Rng): ToolDef[] {
  const tools = req.tools ?? [];
  const choice = req.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return [];
  if (typeof choice === "object") {
    const named = tools.find((t) => t.function.name === choice.function.name);
    return [named ?? { type: "function", function: { name: choice.function.name } }];
  }
  const last = req.messages.at(-1);
  const text = last?.role === "user" ? messageText(last.content) : "";
  const mentioned = tools.filter((t) => mentions(text, t.function.name));
  if (choice === "required" && mentioned.length === 0) return [rng.pick(tools)];
  return mentioned;
}

function tokenTotal(g: Pick<Generated, "reasoning" | "content" | "toolCalls">): number {
  return g.reasoning.length + g.content.length + g.toolCalls.reduce((n, c) => n + 1 + c.pieces.length, 0);
}

/** Applies max_tokens, an injected cut and stop sequences to the full answer. */
function finish(
  full: Omit<Generated, "finishReason" | "completionTokens">,
  budget: number,
  limits: GenLimits,
  stop: string[],
): Generated {
  const cutAt =
    limits.cutAt === "half"
      ? Math.max(1, Math.floor(tokenTotal(full) / 2))
      : (limits.cutAt ?? Number.POSITIVE_INFINITY);
  let remaining = Math.min(budget, cutAt);
  let truncated = false;
  const take = (pieces: string[]): string[] => {
    const kept = pieces.slice(0, Math.max(0, remaining));
    remaining -= kept.length;
    if (kept.length < pieces.length) truncated = true;
    return kept;
  };
  const reasoningOut = take(full.reasoning);
  let content = take(full.content);
  const toolCalls: ToolCallOut[] = [];
  for (const call of full.toolCalls) {
    if (remaining <= 0) {
      truncated = true;
      break;
    }
    remaining -= 1;
    toolCalls.push({ ...call, pieces: take(call.pieces) });
  }
  let reason: FinishReason = truncated
    ? cutAt < budget
      ? "insufficient_system_resource"
      : "length"
    : toolCalls.length > 0
      ? "tool_calls"
      : "stop";
  const text = content.join("");
  const hits = stop.map((s) => text.indexOf(s)).filter((i) => i >= 0);
  if (hits.length > 0) {
    content = tokenize(text.slice(0, Math.min(...hits)));
    reason = "stop";
  }
  const out = { reasoning: reasoningOut, content, toolCalls };
  return { ...out, finishReason: reason, completionTokens: tokenTotal(out) };
}

function stopList(stop: string | string[] | undefined): string[] {
  return (typeof stop === "string" ? [stop] : (stop ?? [])).filter((s) => s.length > 0);
}

export function generateChat(req: ChatRequest, resolved: Resolved, limits: GenLimits): Generated {
  const seed = chatSeed(req, resolved);
  const lastUser = [...req.messages].reverse().find((m) => m.role === "user");
  const userText = messageText(lastUser?.content);
  const language = detectLanguage(userText);
  const extra = promptWords(userText);
  const lengths = sub(seed, "length");
  const answerTokens = lengths.int(limits.minAnswerTokens, limits.maxAnswerTokens);
  const reasoningTokens = Math.max(
    8,
    Math.round(lengths.int(limits.minAnswerTokens, limits.maxAnswerTokens) * EFFORT_FACTOR[resolved.effort]),
  );
  const thought = resolved.thinking
    ? reasoning(sub(seed, "reasoning"), reasoningTokens, language, extra)
    : [];
  const budget = req.max_tokens ?? Number.POSITIVE_INFINITY;
  const stop = stopList(req.stop);

  const calls = chooseTools(req, sub(seed, "tools"));
  if (calls.length > 0) {
    const args = sub(seed, "arguments");
    const toolCalls = calls.map((t, i) => ({
      id: toolCallId(limits.era, i),
      name: t.function.name,
      pieces: tokenize(JSON.stringify(valueFromSchema(args, t.function.parameters ?? { type: "object" }))),
    }));
    return finish({ reasoning: thought, content: [], toolCalls }, budget, limits, stop);
  }
  if (req.response_format?.type === "json_object") {
    const asked = req.messages.some((m) => m.role !== "assistant" && /json/i.test(messageText(m.content)));
    if (!asked) {
      // DeepSeek documents "an unending stream of whitespace until the generation reaches the token limit".
      const whitespace = Array.from({ length: Math.min(budget, limits.maxAnswerTokens) }, () => "\n");
      const out = finish({ reasoning: thought, content: whitespace, toolCalls: [] }, budget, limits, stop);
      return out.finishReason === "stop" ? { ...out, finishReason: "length" } : out;
    }
    const content = tokenize(jsonAnswer(sub(seed, "content"), answerTokens, language, extra));
    return finish({ reasoning: thought, content, toolCalls: [] }, budget, limits, stop);
  }
  const content = prose(sub(seed, "content"), answerTokens, language, extra);
  return finish({ reasoning: thought, content, toolCalls: [] }, budget, limits, stop);
}

export function generateFim(req: FimRequest, limits: GenLimits): Generated {
  const seed = fnv1a(JSON.stringify({ model: req.model, prompt: req.prompt, suffix: req.suffix ?? "" }));
  const rng = sub(seed, "fim");
  const n = rng.int(limits.minAnswerTokens, limits.maxAnswerTokens);
  const idents = (req.prompt.match(/\b[a-z_][a-z0-9_]{2,12}\b/g) ?? [])
    .filter((w) => !KEYWORDS.has(w))
    .slice(-16);
  const content = code(rng, n, idents);
  return finish(
    { reasoning: [], content, toolCalls: [] },
    req.max_tokens ?? Number.POSITIVE_INFINITY,
    limits,
    stopList(req.stop),
  );
}
