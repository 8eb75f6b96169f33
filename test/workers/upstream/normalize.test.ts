import { describe, expect, it } from "vitest";
import { OpenAiShapeNormalizer, rewriteSse } from "../../../src/upstream/providers/normalize";
import { ThinkSplitter } from "../../../src/upstream/providers/think-splitter";

describe("ThinkSplitter", () => {
  it("separates inline <think> reasoning from the answer across chunk boundaries", () => {
    const splitter = new ThinkSplitter();
    const pieces = ["<thi", "nk>Let me ", "think</th", "ink>The answer", " is 4.", "<", "b>"];
    let content = "";
    let reasoning = "";
    for (const piece of pieces) {
      const out = splitter.split(piece);
      content += out.content;
      reasoning += out.reasoning;
    }
    const rest = splitter.flush();
    expect(reasoning + rest.reasoning).toBe("Let me think");
    expect(content + rest.content).toBe("The answer is 4.<b>");
  });
});

describe("OpenAI-compatible answers in DeepSeek's shape", () => {
  it("renames the model, maps `reasoning` and adds DeepSeek's cache usage fields", () => {
    const normalizer = new OpenAiShapeNormalizer("deepseek-v4-flash");
    const chunk = normalizer.chunk({
      model: "accounts/fireworks/models/deepseek-v4-flash",
      choices: [{ index: 0, delta: { reasoning: "hmm" } }],
      usage: { prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 64 } },
    });
    expect(chunk.model).toBe("deepseek-v4-flash");
    expect((chunk.choices as Array<{ delta: Record<string, unknown> }>)[0]?.delta).toEqual({
      reasoning_content: "hmm",
    });
    expect(chunk.usage).toMatchObject({ prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 });
  });

  it("splits inline <think> in a whole answer", () => {
    const answer = new OpenAiShapeNormalizer("r1").answer({
      choices: [{ index: 0, message: { role: "assistant", content: "<think>step 1</think>42" } }],
      usage: { prompt_tokens: 3, completion_tokens: 4 },
    });
    expect((answer.choices as Array<{ message: Record<string, unknown> }>)[0]?.message).toMatchObject({
      content: "42",
      reasoning_content: "step 1",
    });
  });

  it("re-frames a stream, keeping keep-alives and [DONE]", async () => {
    const source = new Response(
      ': keep-alive\n\ndata: {"choices":[{"index":0,"delta":{"content":"<think>a</think>b"}}]}\n\ndata: [DONE]\n\n',
    ).body!;
    const normalizer = new OpenAiShapeNormalizer("m");
    const text = await new Response(rewriteSse(source, (chunk) => [normalizer.chunk(chunk)])).text();
    expect(text).toBe(
      ': keep-alive\n\ndata: {"choices":[{"index":0,"delta":{"content":"b","reasoning_content":"a"}}],"model":"m"}\n\ndata: [DONE]\n\n'.replace(
        '{"choices"',
        '{"choices"',
      ),
    );
  });
});
