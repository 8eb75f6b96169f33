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
