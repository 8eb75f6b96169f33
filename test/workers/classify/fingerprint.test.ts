import { describe, expect, it } from "vitest";
import { fingerprintPrompt } from "../../../src/classify/fingerprint";
import { estimateTextTokens } from "../../../src/classify/tokens";

const withSystem = (system: string, question = "hi") => {
  const body = {
    messages: [
      { role: "system", content: system },
      { role: "user", content: question },
    ],
  };
  return fingerprintPrompt(body, JSON.stringify(body));
};

describe("prompt fingerprints", () => {
  it("put prompts whose system prompt differs only by a date in one family, with different prefixes", () => {
    const body = (day: string, question: string) => ({
      messages: [
        { role: "system", content: `You are a support agent. Today is ${day}. Ticket 48213.` },
        { role: "user", content: question },
      ],
    });
    const a = fingerprintPrompt(body("2026-12-06", "hi"), "a");
    const b = fingerprintPrompt(body("2026-12-07", "hello"), "b");
    const c = fingerprintPrompt({ messages: [{ role: "system", content: "You are a poet." }] }, "a");
    expect(a.family).toBe(b.family);
    expect(a.prefixHash).not.toBe(b.prefixHash);
    expect(c.family).not.toBe(a.family);
    expect(a.promptHash).toBe(c.promptHash); // the same raw body
    expect(a.prefixTokens).toBeGreaterThan(5);
  });

  it.each([
    ["a time", "at 09:14:07.25 UTC", "at 17:02:59.90 UTC"],
    [
      "a UUID",
      "session 1b4e28ba-2fa1-41d2-883f-0e9a4a1b8c51",
      "session 6fa459ea-ee8a-3ca4-894e-db77e160355e",
    ],
    ["a hex id", "trace 4bf92f3577b34da6a3ce929d0e0e4736", "trace 00f067aa0ba902b7c0ffee0123456789"],
    ["a counter of another length", "request 9 of the day", "request 1024 of the day"],
  ])("mask %s, a volatile part, out of the family", (_what, one, other) => {
    const a = withSystem(`You are a support agent, ${one}. Be brief.`);
    const b = withSystem(`You are a support agent, ${other}. Be brief.`);
    expect(a.family).toBe(b.family);
    expect(a.prefixHash).not.toBe(b.prefixHash);
  });

  it("keep words made of hex letters, and the prompt's other words, in the family", () => {
    expect(withSystem("Answer as a bead maker.").family).not.toBe(
      withSystem("Answer as a face maker.").family,
    );
    expect(withSystem("Answer in French, 2 lines.").family).not.toBe(
      withSystem("Answer in German, 2 lines.").family,
    );
  });

  it("fingerprint a prompt with no system message or tools as an empty prefix", () => {
    const a = withSystem("x");
    const none = fingerprintPrompt({ messages: [{ role: "user", content: "hi" }] }, "{}");
    expect(none.prefixTokens).toBe(0);
    expect(none.family).not.toBe(a.family);
  });
});

describe("prompt fingerprints of a long system prompt", () => {
  const paragraph =
    "The edge router admits each request by its lease, then relays the answer byte for byte. ";
  const document = (size: number, head = "", tail = "") =>
    `${head}${paragraph.repeat(Math.ceil(size / paragraph.length)).slice(0, size)}${tail}`;

  it("estimate the prefix's tokens from the whole text, though only samples of it are hashed", () => {
    const system = document(4 * 1024 * 1024);
    const tokens = withSystem(system).prefixTokens;
    const whole = estimateTextTokens(JSON.stringify([[{ role: "system", content: system }], null]));
    expect(Math.abs(tokens - whole) / whole).toBeLessThan(0.01);
  });

  it("see a change at its start or end, group a changed date, and agree on the same prompt", () => {
    const big = 2 * 1024 * 1024;
    const base = withSystem(document(big, "Today is 2026-12-06. ", " Answer in English."));
    expect(withSystem(document(big, "Today is 2026-12-06. ", " Answer in English."))).toEqual(base);
    const otherDay = withSystem(document(big, "Today is 2026-12-07. ", " Answer in English."));
    expect(otherDay.family).toBe(base.family);
    expect(otherDay.prefixHash).not.toBe(base.prefixHash);
    const otherEnd = withSystem(document(big, "Today is 2026-12-06. ", " Answer in Spanish."));
    expect(otherEnd.family).not.toBe(base.family);
    expect(otherEnd.prefixHash).not.toBe(base.prefixHash);
  });

  it("tell apart two long prompts that differ only in length", () => {
    const a = withSystem(document(200_000));
    const b = withSystem(document(200_000 + paragraph.length));
    expect(a.prefixHash).not.toBe(b.prefixHash);
  });
});
