import { describe, expect, it } from "vitest";
import { countTokens, tokenize } from "../../../sim/tokens";

describe("tokenizer approximation", () => {
  const samples = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "internationalization and tokenization of 1234567 numbers",
    "你好，世界！这是一个测试。",
    "mixed 中文 and English, with émojis 🎉🎉 and ünïcödé",
    'function f(x) {\n  return {"a": x + 1};\n}\n\n\tindented',
    "   leading spaces and trailing   ",
    "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜><think>",
    "",
  ];

  it("splits text into pieces that join back to the input", () => {
    for (const s of samples) expect(tokenize(s).join("")).toBe(s);
  });

  it("counts the same as tokenize", () => {
    for (const s of samples) expect(countTokens(s)).toBe(tokenize(s).length);
  });

  it("keeps common English words whole and splits long ones", () => {
    expect(tokenize("Hello, world!")).toEqual(["Hello", ",", " world", "!"]);
    expect(countTokens(" internationalization")).toBeGreaterThan(2);
    expect(tokenize("1234567")).toEqual(["123", "456", "7"]);
  });

  it("treats chat-template special tokens as one token each", () => {
    expect(countTokens("<｜User｜>hi<｜Assistant｜><think>")).toBe(4);
  });

  it("charges about 0.6 token per CJK character and ~0.2-0.3 per English character", () => {
    const zh = "深度求索的接口在高峰期会返回排队中的保活注释".repeat(10);
    expect(countTokens(zh) / zh.length).toBeCloseTo(0.6, 1);
    const en =
      "The router keeps every edge location under the account limit while streaming answers. ".repeat(10);
    const perChar = countTokens(en) / en.length;
    expect(perChar).toBeGreaterThan(0.15);
    expect(perChar).toBeLessThan(0.35);
  });
});
