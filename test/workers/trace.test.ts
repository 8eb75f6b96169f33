import { describe, expect, it } from "vitest";
import { traceContext } from "../../src/trace";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

describe("a caller's traceparent (W3C Trace Context)", () => {
  it("joins the caller's trace, sampled as its flags say", () => {
    expect(traceContext(`00-${TRACE}-${PARENT}-01`)).toMatchObject({
      traceId: TRACE,
      parentSpanId: PARENT,
      sampled: true,
    });
    expect(traceContext(`00-${TRACE}-${PARENT}-00`).sampled).toBe(false);
  });

  it("reads a later version's fields as version 00 defines them, whatever it adds after", () => {
    expect(traceContext(`01-${TRACE}-${PARENT}-01-what-comes-next`)).toMatchObject({
      traceId: TRACE,
      parentSpanId: PARENT,
    });
  });

  it("starts a new trace for one that is not valid", () => {
    for (const invalid of [
      `00-${TRACE.toUpperCase()}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01-extra`,
      `ff-${TRACE}-${PARENT}-01`,
      `00-${"0".repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
      "garbage",
    ]) {
      const context = traceContext(invalid);
      expect(context.traceId, invalid).not.toBe(TRACE);
      expect(context.parentSpanId, invalid).toBeUndefined();
      expect(context.sampled).toBe(true);
    }
  });
});
