import { SSE_DONE, SseParser, sseEvent } from "../sse";
import { ThinkSplitter } from "./think-splitter";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** DeepSeek's usage fields from an OpenAI-style usage object (cached tokens under prompt_tokens_details). */
export function normalizeUsage(usage: unknown): unknown {
  if (!isObject(usage)) return usage;
  const prompt = typeof usage.prompt_tokens === "number" ? usage.prompt_tokens : 0;
  const details = isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  const hit =
    typeof usage.prompt_cache_hit_tokens === "number"
      ? usage.prompt_cache_hit_tokens
      : typeof details.cached_tokens === "number"
        ? details.cached_tokens
        : 0;
  return {
    ...usage,
    prompt_cache_hit_tokens: hit,
    prompt_cache_miss_tokens:
      typeof usage.prompt_cache_miss_tokens === "number"
        ? usage.prompt_cache_miss_tokens
        : Math.max(0, prompt - hit),
  };
}

/**
 * Rewrites chunks and answers from OpenAI-compatible hosts into DeepSeek's shape: the router's model
 * name, `reasoning` or inline `<think>` as `reasoning_content`, and DeepSeek's cache usage fields.
 */
export class OpenAiShapeNormalizer {
  private readonly splitter = new ThinkSplitter();

  constructor(private readonly model: string) {}

  chunk(chunk: Json): Json {
    const choices = Array.isArray(chunk.choices)
      ? chunk.choices.map((choice) => this.choice(choice, "delta", this.splitter))
      : chunk.choices;
    return {
      ...chunk,
      model: this.model,
      choices,
      ...("usage" in chunk ? { usage: normalizeUsage(chunk.usage) } : {}),
    };
  }

  answer(answer: Json): Json {
    const choices = Array.isArray(answer.choices)
      ? answer.choices.map((choice) => {
          const splitter = new ThinkSplitter();
          const normalized = this.choice(choice, "message", splitter);
          const rest = splitter.flush();
          const message = isObject(normalized.message) ? normalized.message : {};
          if (rest.content || rest.reasoning) {
            message.content = `${(message.content as string | null) ?? ""}${rest.content}`;
            if (rest.reasoning)
              message.reasoning_content = `${(message.reasoning_content as string) ?? ""}${rest.reasoning}`;
          }
          return normalized;
        })
      : answer.choices;
    return { ...answer, model: this.model, choices, usage: normalizeUsage(answer.usage) };
  }

  private choice(choice: unknown, field: "delta" | "message", splitter: ThinkSplitter): Json {
    if (!isObject(choice) || !isObject(choice[field])) return isObject(choice) ? choice : {};
    const part: Json = { ...(choice[field] as Json) };
    if (typeof part.reasoning === "string" && part.reasoning_content === undefined) {
      part.reasoning_content = part.reasoning;
      delete part.reasoning;
    }
    if (typeof part.content === "string") {
      const { content, reasoning } = splitter.split(part.content);
      part.content = content;
      if (reasoning)
        part.reasoning_content = `${(part.reasoning_content as string | undefined) ?? ""}${reasoning}`;
    }
    return { ...choice, [field]: part };
  }
}

/**
 * Re-frames an upstream SSE stream chunk by chunk through `rewrite`, keeping comments (keep-alives)
 * and `[DONE]`. Events are re-serialised, so this is only for providers that need translating.
 */
export function rewriteSse(
  body: ReadableStream<Uint8Array>,
  rewrite: (chunk: Json) => Json[],
  onDone: () => Json[] = () => [],
): ReadableStream<Uint8Array> {
  let parser: SseParser | undefined;
  const encoder = new TextEncoder();
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        parser = new SseParser({
          comment: (text) => controller.enqueue(encoder.encode(`: ${text}\n\n`)),
          data: (payload) => {
            if (payload.trim() === "[DONE]") {
              for (const chunk of onDone()) controller.enqueue(sseEvent(chunk));
              controller.enqueue(SSE_DONE);
              return;
            }
            let parsed: unknown;
            try {
              parsed = JSON.parse(payload);
            } catch {
              return;
            }
            if (!isObject(parsed)) return;
            for (const chunk of rewrite(parsed)) controller.enqueue(sseEvent(chunk));
          },
        });
      },
      transform(bytes) {
        parser?.push(bytes);
      },
      flush() {
        parser?.end();
      },
    }),
  );
}
