import { Script } from "node:vm";
import { describe, expect, it } from "vitest";
import { CONSOLE_HTML } from "../../../src/observe/console-page";

describe("the operator console page", () => {
  it("carries a script that parses, and every form pattern compiles as browsers compile it (the v flag)", () => {
    const script = CONSOLE_HTML.match(/<script>([\s\S]*)<\/script>/)?.[1] ?? "";
    expect(script.length).toBeGreaterThan(1000);
    expect(() => new Script(script)).not.toThrow();
    const patterns = [...CONSOLE_HTML.matchAll(/pattern="([^"]+)"/g)].map((match) => match[1] ?? "");
    expect(patterns.length).toBeGreaterThanOrEqual(5);
    for (const pattern of patterns) expect(() => new RegExp(`^(?:${pattern})$`, "v")).not.toThrow();
  });

  it("checks names as the API does before sending", () => {
    const name = CONSOLE_HTML.match(/name="name" required pattern="([^"]+)"/)?.[1] ?? "";
    const valid = new RegExp(`^(?:${name})$`, "v");
    expect(valid.test("batch job")).toBe(true);
    expect(valid.test("<script>")).toBe(false);
  });
});
