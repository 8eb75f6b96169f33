import { describe, expect, it } from "vitest";
import { resetDuration, windowOf } from "../../../src/tenancy/spend";

describe("reset durations in OpenAI's form", () => {
  it.each([
    [0, "0ms"],
    [12, "12ms"],
    [999, "999ms"],
    [1_000, "1s"],
    [1_500, "1.5s"],
    [59_999, "59.999s"],
    [360_000, "6m0s"],
    [977_764, "16m17.764s"],
    [3_723_000, "1h2m3s"],
  ])("writes %i ms as %s", (ms, text) => {
    expect(resetDuration(ms)).toBe(text);
  });
});

describe("UTC windows", () => {
  const at = Date.parse("2026-12-31T23:59:30.250Z");

  it("cuts minutes, days and calendar months at UTC boundaries", () => {
    expect(windowOf("requests", at)).toEqual({
      start: Date.parse("2026-12-31T23:59:00Z"),
      end: Date.parse("2027-01-01T00:00:00Z"),
    });
    expect(windowOf("usd-day", at)).toEqual({
      start: Date.parse("2026-12-31T00:00:00Z"),
      end: Date.parse("2027-01-01T00:00:00Z"),
    });
    expect(windowOf("usd-month", at)).toEqual({
      start: Date.parse("2026-12-01T00:00:00Z"),
      end: Date.parse("2027-01-01T00:00:00Z"),
    });
  });
});
