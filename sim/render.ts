import type { Generated } from "./completion";

/**
 * Frames a generated answer the way DeepSeek puts it on the wire: compact `data: {...}\n\n` events
 * (role chunk first, usage merged into the finish chunk, `data: [DONE]`), or one JSON body.
 * Key order follows the recorded fixtures (deepseek-api.md §4.4, §5).
 */

export interface Meta {
  id: string;
  created: number;
  model: string;
  fingerprint: string;
  thinking: boolean;
  includeUsage: boolean;
  /** OpenAI-style: usage only with include_usage, in an extra chunk with `choices: []`. */
  separateUsageChunk: boolean;
}

export interface UsageCounts {
  prompt: number;
  hit: number;
}

/** One SSE event; `token` events are paced by tokensPerS, the others go out with their neighbour. */
export interface Frame {
  data: string;
  token: boolean;
}

function usageJson(u: UsageCounts, g: Generated, thinking: boolean): Record<string, unknown> {
  const reasoning = g.reasoning.length;
  return {
    prompt_tokens: u.prompt,
    completion_tokens: g.completionTokens,
    total_tokens: u.prompt + g.completionTokens,
    prompt_tokens_details: { cached_tokens: u.hit },
    ...(thinking ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
    prompt_cache_hit_tokens: u.hit,
    prompt_cache_miss_tokens: u.prompt - u.hit,
  };
}

const sse = (json: unknown): string => `data: ${JSON.stringify(json)}\n\n`;
const DONE = "data: [DONE]\n\n";

/** Builds chunk envelopes and the closing usage/[DONE] frames shared by chat and FIM streams. */
function framer(meta: Meta, object: string) {
  const head = {
    id: meta.id,
    object,
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.fingerprint,
  };
  const inline = meta.includeUsage ? { usage: null } : {};
  return {
    chunk: (choice: Record<string, unknown>): string => sse({ ...head, choices: [choice], ...inline }),
    closing(choice: Record<string, unknown>, usage: Record<string, unknown>): Frame[] {
      if (!meta.separateUsageChunk) {
        return [
          { data: sse({ ...head, choices: [choice], usage }), token: false },
          { data: DONE, token: false },
        ];
      }
      const frames = [{ data: sse({ ...head, choices: [choice], ...inline }), token: false }];
      if (meta.includeUsage) frames.push({ data: sse({ ...head, choices: [], usage }), token: false });
      return [...frames, { data: DONE, token: false }];
    },
  };
}

export function chatFrames(g: Generated, meta: Meta, usage: UsageCounts): Frame[] {
  const f = framer(meta, "chat.completion.chunk");
  const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  const token = (delta: Record<string, unknown>): Frame => ({ data: f.chunk(choice(delta)), token: true });
  const t = meta.thinking;
  const frames: Frame[] = [
    {
      data: f.chunk(
        choice(
          t
            ? { role: "assistant", content: null, reasoning_content: "" }
            : { role: "assistant", content: "" },
        ),
      ),
      token: false,
    },
  ];
  for (const p of g.reasoning) frames.push(token({ content: null, reasoning_content: p }));
  for (const p of g.content) frames.push(token(t ? { content: p, reasoning_content: null } : { content: p }));
  g.toolCalls.forEach((call, index) => {
    const header = { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } };
    frames.push(token({ tool_calls: [header] }));
    for (const p of call.pieces) frames.push(token({ tool_calls: [{ index, function: { arguments: p } }] }));
  });
  const last = choice(t ? { content: "", reasoning_content: null } : { content: "" }, g.finishReason);
  return [...frames, ...f.closing(last, usageJson(usage, g, t))];
}

export function chatBody(g: Generated, meta: Meta, usage: UsageCounts): string {
  const message: Record<string, unknown> = { role: "assistant", content: g.content.join("") };
  if (meta.thinking) message.reasoning_content = g.reasoning.join("");
  if (g.toolCalls.length > 0) {
    message.tool_calls = g.toolCalls.map((c, index) => ({
      index,
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: c.pieces.join("") },
    }));
  }
  return JSON.stringify({
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: g.finishReason }],
    usage: usageJson(usage, g, meta.thinking),
    system_fingerprint: meta.fingerprint,
  });
}

export function fimFrames(g: Generated, meta: Meta, usage: UsageCounts, echo: string | undefined): Frame[] {
  const f = framer(meta, "text_completion");
  const choice = (text: string, finish: string | null = null) => ({
    text,
    index: 0,
    logprobs: null,
    finish_reason: finish,
  });
  const frames: Frame[] = echo ? [{ data: f.chunk(choice(echo)), token: false }] : [];
  for (const p of g.content) frames.push({ data: f.chunk(choice(p)), token: true });
  return [...frames, ...f.closing(choice("", g.finishReason), usageJson(usage, g, false))];
}

export function fimBody(g: Generated, meta: Meta, usage: UsageCounts, echo: string | undefined): string {
  return JSON.stringify({
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.fingerprint,
    choices: [
      { text: (echo ?? "") + g.content.join(""), index: 0, logprobs: null, finish_reason: g.finishReason },
    ],
    usage: usageJson(usage, g, false),
  });
}
