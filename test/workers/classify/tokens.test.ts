import { describe, expect, it } from "vitest";
import { estimateTextTokens } from "../../../src/classify/tokens";

describe("estimateTextTokens", () => {
  it.each([
    ["", 0],
    ["hello world", 2],
    ["internationalization", 5],
    ["12345", 2],
    ["a, b; c!", 6],
    ["中文中文中", 3],
    ["line one\nline two", 5],
    ["    indented", 3],
  ])("%j ≈ %d tokens", (text, tokens) => {
    expect(estimateTextTokens(text)).toBeCloseTo(tokens, 5);
  });
});

describe("estimateTextTokens on a long text", () => {
  it("samples it, and lands within 2% of the sum of its parts", () => {
    const part = Array.from(
      { length: 600 },
      (_, i) => `Line ${i}: the quick brown fox, ${i * 37} jumps; 中文 over the internationalization.\n`,
    ).join("");
    const whole = part.repeat(Math.ceil((2 << 20) / part.length));
    const pieces = whole.length / part.length;
    const exact = estimateTextTokens(part) * pieces;
    expect(part.length).toBeLessThan(1 << 16);
    expect(Math.abs(estimateTextTokens(whole) - exact) / exact).toBeLessThan(0.02);
  });
});
