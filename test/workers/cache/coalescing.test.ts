import { describe, expect, it } from "vitest";
import { chatBody, createSim, eventually, ledgerEntry, readSse } from "../helpers";
import { storedFrom, uniquePrompt } from "./support";

const CHAT = "/v1/chat/completions";

function deterministic(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return chatBody({ temperature: 0, messages: [{ role: "user", content: uniquePrompt() }], ...overrides });
}

interface Chunk {
  id: string;
  choices: Array<{ delta: { content?: string | null; reasoning_content?: string | null } }>;
}

function parsedEvents(sse: string): Chunk[] {
  return sse
    .split("\n\n")
    .filter((block) => block.startsWith("data: ") && block !== "data: [DONE]")
    .map((block) => JSON.parse(block.slice(6)));
}

function parsedErrors(sse: string): Array<{ error: { code: string } }> {
  return sse
    .split("\n\n")
    .filter((block) => block.startsWith('data: {"error"'))
    .map((block) => JSON.parse(block.slice(6)));
}

async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const { value, done } = await reader.read();
  expect(done).toBe(false);
  return new TextDecoder().decode(value);
}

async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}

describe("coalescing", () => {
  it("N concurrent identical streamed requests make exactly one upstream call and all get the full answer", async () => {
    const sim = await createSim({ ttftMs: 100, tokensPerS: 400 });
    const body = deterministic({ stream: true });
    const n = 8;
    const responses = await Promise.all(Array.from({ length: n }, () => sim.call(CHAT, { json: body })));
    const texts = await Promise.all(responses.map((r) => r.text()));
    const statuses = responses.map((r) => r.headers.get("x-router-cache")).sort();
    expect(statuses).toEqual(["MISS", ...Array(n - 1).fill("COALESCED")].sort());
    expect(new Set(texts).size).toBe(1);
    expect(texts[0]?.endsWith("data: [DONE]\n\n")).toBe(true);
    for (const response of responses.filter((r) => r.headers.get("x-router-cache") === "COALESCED")) {
      expect(response.headers.get("x-router-cost-usd")).toBe("0");
      expect(response.headers.get("x-router-model")).toBe("deepseek-v4-flash");
    }
    const stats = await sim.stats();
    expect(stats.requests).toBe(1);
    expect(stats.peakInFlight).toBe(1);
  });

  it("streamed and non-streamed requests share one call; each gets its own framing", async () => {
    const sim = await createSim({ ttftMs: 100, tokensPerS: 400 });
    const body = deterministic({ thinking: { type: "enabled" } });
    // Each body is read as soon as its response arrives: the leader's stream advances as its caller reads.
    const answers = await Promise.all(
      [true, false, true, false, false].map(async (stream) => {
        const response = await sim.call(CHAT, { json: { ...body, stream } });
        return { response, text: await response.text() };
      }),
    );
    const [leader, ...followers] = answers;
    expect(leader?.response.headers.get("x-router-cache")).toBe("MISS");
    const events = parsedEvents(leader!.text);
    const content = events.map((c) => c.choices[0]?.delta.content ?? "").join("");
    const reasoning = events.map((c) => c.choices[0]?.delta.reasoning_content ?? "").join("");
    expect(reasoning).not.toBe("");
    for (const { response, text } of followers) {
      expect(response.headers.get("x-router-cache")).toBe("COALESCED");
      if (response.headers.get("content-type")?.startsWith("application/json")) {
        const json = JSON.parse(text) as { id: string; choices: Array<{ message: Record<string, unknown> }> };
        expect(json.id).toBe(events[0]?.id);
        expect(json.choices[0]?.message.content).toBe(content);
        expect(json.choices[0]?.message.reasoning_content).toBe(reasoning);
        expect(Number(response.headers.get("x-router-saved-usd"))).toBeGreaterThan(0);
      } else {
        expect(parsedEvents(text)).toEqual(events);
      }
    }
    expect((await sim.stats()).requests).toBe(1);
  });

  it("a follower receives the stream as it is produced: what was sent so far, then the rest", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 40, minAnswerTokens: 40, maxAnswerTokens: 40 });
    const body = deterministic({ stream: true });
    const leader = await sim.call(CHAT, { json: body });
    const leaderReader = leader.body!.getReader();
    let leaderText = await readChunk(leaderReader);
    leaderText += await readChunk(leaderReader);

    const follower = await sim.call(CHAT, { json: body });
    expect(follower.headers.get("x-router-cache")).toBe("COALESCED");
    const followerReader = follower.body!.getReader();
    const firstOfFollower = await readChunk(followerReader);
    expect(leaderText.startsWith(firstOfFollower)).toBe(true);
    // The upstream is still generating: the follower got bytes before the answer ended.
    expect((await sim.stats()).completed).toBe(0);

    const [leaderRest, followerRest] = await Promise.all([readRest(leaderReader), readRest(followerReader)]);
    expect(firstOfFollower + followerRest).toBe(leaderText + leaderRest);
    expect((await sim.stats()).requests).toBe(1);
  });

  it("a non-streamed follower of a stream cut mid-answer is answered by a new call, as it would be alone", async () => {
    const sim = await createSim({
      ttftMs: 50,
      tokensPerS: 20,
      faultScript: [{ kind: "cutMidStream", afterChunks: 6 }],
    });
    const prompt = deterministic({ stream: true });
    // The leader's client reads its stream as it comes; it ends with the cut, in-band.
    const leader = sim.call(CHAT, { json: prompt }).then(readSse);
    await eventually(async () => expect((await sim.stats()).requests).toBe(1));
    const follower = await sim.call(CHAT, { json: { ...prompt, stream: false } });
    expect(follower.status).toBe(200);
    expect(((await follower.json()) as { object: string }).object).toBe("chat.completion");
    expect(JSON.parse((await leader).at(-1) as string).error).toBeDefined();
    // The follower's answer is a second upstream call.
    expect((await sim.stats()).requests).toBe(2);
  });

  it("when the request leading fails before answering, its followers get the same failure, not N upstream calls", async () => {
    const sim = await createSim({ faultScript: Array(12).fill({ kind: "status", status: 503 }) });
    const body = deterministic();
    const responses = await Promise.all(Array.from({ length: 5 }, () => sim.call(CHAT, { json: body })));
    expect(responses.map((r) => r.status)).toEqual(Array(5).fill(503));
    expect(responses.filter((r) => r.headers.get("x-router-cache") === "COALESCED")).toHaveLength(4);
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect((await sim.stats()).requests).toBeLessThanOrEqual(3);
  });

  it("a stream cut mid-answer reaches followers as the same cut with an error event, and is not stored", async () => {
    const sim = await createSim({
      ttftMs: 50,
      tokensPerS: 400,
      faultScript: [{ kind: "cutMidStream", afterChunks: 5 }],
    });
    const body = deterministic({ stream: true });
    const responses = await Promise.all(Array.from({ length: 3 }, () => sim.call(CHAT, { json: body })));
    for (const response of responses) {
      const events = await readSse(response);
      expect(events).not.toContain("[DONE]");
      expect(JSON.parse(events.at(-1) as string).error.code).toBe("upstream_error");
    }
    const again = await sim.call(CHAT, { json: body });
    expect(again.headers.get("x-router-cache")).toBe("MISS");
    await again.text();
    expect((await sim.stats()).requests).toBe(2);
  });

  it("when the leading request's client leaves before its answer starts, a follower leads a new call instead of failing", async () => {
    const sim = await createSim({ ttftMs: 400, tokensPerS: 0, minAnswerTokens: 10, maxAnswerTokens: 10 });
    const body = deterministic();
    const leaving = new AbortController();
    const leader = sim
      .call(CHAT, { json: { ...body, stream: true }, signal: leaving.signal })
      .catch(() => "left");
    await eventually(async () => expect((await sim.stats()).requests).toBe(1));
    const follower = sim.call(CHAT, { json: body });
    await new Promise((resolve) => setTimeout(resolve, 50));
    leaving.abort();
    const answered = await follower;
    expect(answered.status).toBe(200);
    expect(answered.headers.get("x-router-cache")).toBe("MISS");
    const json = (await answered.json()) as { choices: Array<{ finish_reason: string }> };
    expect(json.choices[0]?.finish_reason).toBe("stop");
    expect(await sim.stats()).toMatchObject({ requests: 2, aborted: 1 });
    await leader;
  });

  it("when the leading request's client leaves mid-stream, its followers still get the whole answer, which is kept", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 40, minAnswerTokens: 40, maxAnswerTokens: 40 });
    const body = deterministic({ stream: true });
    const leaderId = `leader-${crypto.randomUUID()}`;
    const leader = await sim.call(CHAT, { json: body, headers: { "x-request-id": leaderId } });
    const leaderReader = leader.body!.getReader();
    await readChunk(leaderReader);
    const followerId = `follower-${crypto.randomUUID()}`;
    const streamed = await sim.call(CHAT, { json: body, headers: { "x-request-id": followerId } });
    expect(streamed.headers.get("x-router-cache")).toBe("COALESCED");
    const followerReader = streamed.body!.getReader();
    const head = await readChunk(followerReader);
    const json = sim.call(CHAT, { json: { ...body, stream: false } });
    await leaderReader.cancel();

    const text = head + (await readRest(followerReader));
    expect(parsedErrors(text)).toEqual([]);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(parsedEvents(text).length).toBeGreaterThanOrEqual(40);
    const answered = await json;
    expect(answered.headers.get("x-router-cache")).toBe("COALESCED");
    expect(
      ((await answered.json()) as { choices: Array<{ finish_reason: string }> }).choices[0]?.finish_reason,
    ).toBe("stop");
    // One upstream call, run to its end for the followers, and kept: the next identical request hits.
    expect(await sim.stats()).toMatchObject({ requests: 1, completed: 1, aborted: 0 });
    await storedFrom(streamed);
    const later = await sim.call(CHAT, { json: body });
    expect(later.headers.get("x-router-cache")).toBe("HIT");
    await later.text();
    // The leader's caller left: its request is cancelled, billed the upstream's exact usage.
    expect(await ledgerEntry(leaderId)).toMatchObject({ outcome: "cancelled", estimated: false });
    expect((await ledgerEntry(leaderId)).usage.completionTokens).toBe(40);
    expect(await ledgerEntry(followerId)).toMatchObject({ outcome: "complete", cache: "COALESCED" });
  });

  it("when the leading request's client has left, the upstream stops as soon as its last follower leaves too", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 200, maxAnswerTokens: 200 });
    const body = deterministic({ stream: true });
    const leader = await sim.call(CHAT, { json: body });
    const leaderReader = leader.body!.getReader();
    await readChunk(leaderReader);
    const followers = await Promise.all([sim.call(CHAT, { json: body }), sim.call(CHAT, { json: body })]);
    const readers = followers.map((response) => response.body!.getReader());
    await Promise.all(readers.map(readChunk));
    await leaderReader.cancel();
    await readChunk(readers[0]!);
    await readers[0]!.cancel();
    // One follower still reads: the upstream goes on, and its tokens keep coming.
    let text = "";
    for (const until = Date.now() + 500; Date.now() < until; ) text += await readChunk(readers[1]!);
    expect(parsedErrors(text)).toEqual([]);
    expect(await sim.stats()).toMatchObject({ inFlight: 1, aborted: 0 });
    await readers[1]!.cancel();
    await eventually(async () => expect(await sim.stats()).toMatchObject({ inFlight: 0, aborted: 1 }), 2_000);
  });

  it("after the shared answer completes, the next identical request is a hit", async () => {
    const sim = await createSim({ ttftMs: 50, tokensPerS: 400 });
    const body = deterministic({ stream: true });
    const [a, b] = await Promise.all([sim.call(CHAT, { json: body }), sim.call(CHAT, { json: body })]);
    await Promise.all([a!.text(), b!.text()]);
    await storedFrom(a!);
    const later = await sim.call(CHAT, { json: body });
    expect(later.headers.get("x-router-cache")).toBe("HIT");
    await later.text();
    expect((await sim.stats()).requests).toBe(1);
  });
});
