import { describe, expect, it } from "vitest";
import { CompletionTap } from "../../../src/upstream/completion-tap";

const encoder = new TextEncoder();
const event = (delta: Record<string, unknown>, finish: string | null = null, usage: unknown = null) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }], usage })}\n\n`;
const USAGE = { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 };

/** A DeepSeek chat stream: role, `tokens` deltas (multi-byte text included), finish with usage, [DONE]. */
function chatStream(tokens: number, middle: (i: number) => string = (i) => event({ content: ` é${i}` })) {
  let text = event({ role: "assistant", content: "" });
  for (let i = 0; i < tokens; i++) text += i % 7 === 3 ? ": keep-alive\n\n" + middle(i) : middle(i);
  return `${text + event({}, "stop", USAGE)}data: [DONE]\n\n`;
}

/** `bytes` cut into pieces of `size` bytes, the way a paced drain hands them over (mid-event, mid-character). */
function feed(tap: CompletionTap, bytes: Uint8Array, size: number) {
  for (let at = 0; at < bytes.byteLength; at += size) tap.push(bytes.subarray(at, at + size));
  tap.end();
}

describe("the completion tap", () => {
  // 4096: paced drains; the whole length: an answer that arrives in one read, first token to [DONE].
  it.each([4096, 1 << 20])(
    "reads the same usage, finish reason, end and counts whether it skims the middle or parses every event (%i-byte reads)",
    (size) => {
      const bytes = encoder.encode(chatStream(40));
      const skimming = new CompletionTap();
      const seen: string[] = [];
      const parsing = new CompletionTap(undefined, (payload) => seen.push(payload));
      feed(skimming, bytes, size);
      feed(parsing, bytes, size);
      for (const tap of [skimming, parsing]) {
        expect(tap.usage).toMatchObject({ promptTokens: 12, completionTokens: 40 });
        expect(tap.finishReason).toBe("stop");
        expect(tap.done).toBe(true);
        expect(tap.upstreamError).toBeUndefined();
        expect(tap.firstTokenAt).toBeDefined();
      }
      expect(skimming.chunks).toBe(parsing.chunks);
      expect(skimming.tokenChunks).toBe(parsing.tokenChunks);
      expect(seen).toHaveLength(parsing.chunks + 1); // and [DONE]
    },
  );

  it("sees an error event in the middle of an answer that arrives in one read", () => {
    const error = { error: { message: "overloaded", type: "server_error" } };
    const text = chatStream(30, (i) =>
      i === 20 ? `data: ${JSON.stringify(error)}\n\n` : event({ content: "x" }),
    );
    const tap = new CompletionTap();
    feed(tap, encoder.encode(text), 1 << 20);
    expect(tap.upstreamError).toEqual(error.error);
    expect(tap.chunks).toBe(32);
    expect(tap.done).toBe(true);
  });

  it("sees an error event in the middle of a skimmed stream", () => {
    const error = { error: { message: "overloaded", type: "server_error" } };
    const text = chatStream(30, (i) =>
      i === 20 ? `data: ${JSON.stringify(error)}\n\n` : event({ content: "x" }),
    );
    const tap = new CompletionTap();
    feed(tap, encoder.encode(text), 1000);
    expect(tap.upstreamError).toEqual(error.error);
  });

  it("counts events cut across drains, one byte at a time", () => {
    const tap = new CompletionTap();
    feed(tap, encoder.encode(chatStream(12)), 1);
    expect(tap.chunks).toBe(14);
    expect(tap.usage?.completionTokens).toBe(40);
    expect(tap.done).toBe(true);
  });
});
