import { describe, expect, it } from "vitest";
import { costUsd } from "../../../src/classify/price";

const FLASH = { inputCacheHit: 0.003, inputCacheMiss: 0.15, output: 0.6 };

describe("the cost of a request", () => {
  it("is the list price of its tokens, without float noise in what records, spans and logs show", () => {
    // 7 output tokens at $0.60 per million: 0.0000042, which plain arithmetic gives as 0.0000042000000000000004.
    expect(costUsd({ cacheHitTokens: 0, cacheMissTokens: 0, outputTokens: 7 }, FLASH)).toBe(0.0000042);
    expect(costUsd({ cacheHitTokens: 1_000, cacheMissTokens: 13, outputTokens: 101 }, FLASH)).toBe(
      0.00006555,
    );
    expect(String(costUsd({ cacheHitTokens: 0, cacheMissTokens: 0, outputTokens: 28 }, FLASH))).toBe(
      "0.0000168",
    );
  });
});
