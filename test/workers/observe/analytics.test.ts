import { describe, expect, it } from "vitest";
import { dataPoint, dataPointProblem } from "../../../src/observe/analytics";

const point = { indexes: ["acme"], blobs: ["a", "b"], doubles: [1, 2] };

describe("Analytics Engine points", () => {
  it("are refused as production would refuse them, before they are written", () => {
    expect(dataPointProblem(point)).toBeUndefined();
    expect(dataPointProblem({ ...point, blobs: Array.from({ length: 21 }, () => "x") })).toBe(
      "more than 20 blobs",
    );
    expect(dataPointProblem({ ...point, doubles: Array.from({ length: 21 }, () => 0) })).toBe(
      "more than 20 doubles",
    );
    expect(dataPointProblem({ ...point, indexes: ["a", "b"] })).toBe("more than 1 index");
    expect(dataPointProblem({ ...point, indexes: ["é".repeat(49)] })).toBe("an index over 96 bytes");
    expect(dataPointProblem({ ...point, indexes: ["x".repeat(96)] })).toBeUndefined();
    expect(dataPointProblem({ ...point, blobs: ["界".repeat(5_334)] })).toBe("blobs over 16000 bytes");
    expect(dataPointProblem({ ...point, blobs: ["x".repeat(16_000)] })).toBeUndefined();
  });

  it("mark a request without a first token with -1, not 0", () => {
    const p = dataPoint({
      requestId: "r",
      tenant: "acme",
      model: "m",
      type: "chat",
      stream: true,
      status: 499,
      outcome: "cancelled",
      promptTokens: 0,
      completionTokens: 0,
      cacheHitTokens: 0,
      costUsd: 0,
      savedUsd: 0,
      totalMs: 12,
      upstreamMs: 0,
    });
    expect(p.doubles[1]).toBe(-1);
    expect(p.blobs[1]).toBe("");
  });
});
