import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import { chatBody, createSim, eventually, ledgerEntry } from "../helpers";

interface SseEvent {
  id?: number;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => {
      const id = /^id: (\d+)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
      return { ...(id === undefined ? {} : { id: Number(id) }), data };
    });
}

/** Reads `count` events of a stream, then drops it as a departing client would. */
async function readThenDrop(response: Response, count: number): Promise<SseEvent[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (parseSse(text).length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  // Only whole events count: a client resumes after the last id it fully received.
  return parseSse(text.slice(0, text.lastIndexOf("\n\n") + 2));
}

describe("resumable chat streams (opted in with x-router-resumable)", () => {
  it("runs on after the client leaves and resumes after Last-Event-ID, nothing duplicated or missing", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 200, minAnswerTokens: 60, maxAnswerTokens: 60 });
    const first = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-router-resumable": "on" },
    });
    expect(first.status).toBe(200);
    const id = first.headers.get("x-router-stream-id") ?? "";
    expect(id).toMatch(/^chatstream_/);
    const seen = await readThenDrop(first, 5);
    expect(seen.map((event) => event.id)).toEqual([0, 1, 2, 3, 4]);

    const rest = parseSse(
      await (
        await sim.call(`/v1/chat/completions/${id}/stream`, {
          headers: { "last-event-id": String(seen.at(-1)?.id) },
        })
      ).text(),
    );
    const whole = parseSse(await (await sim.call(`/v1/chat/completions/${id}/stream`)).text());
    expect([...seen, ...rest]).toEqual(whole);
    expect(whole.map((event) => event.id)).toEqual(whole.map((_, index) => index));
    expect(whole.at(-1)?.data).toBe("[DONE]");
    // The upstream answered once, in full, and the answer was booked once.
    expect(await sim.stats()).toMatchObject({ requests: 1, completed: 1, aborted: 0 });
    const entry = await ledgerEntry(id);
    expect(entry.outcome).toBe("complete");
    expect(entry.estimated).toBe(false);
  });

  it("ends a cancelled stream as it ends one that fails mid-way: an in-band error chunk, ids running on", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const live = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-router-resumable": "on" },
    });
    const id = live.headers.get("x-router-stream-id") ?? "";
    const reader = (live.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (parseSse(text).length < 2) text += decoder.decode((await reader.read()).value, { stream: true });
    const cancelled = await env.STREAM_OWNER.getByName(`acme/${id}`).cancel({ tenant: "acme" });
    expect(cancelled?.status).toBe("cancelled");
    for (let read = await reader.read(); !read.done; read = await reader.read())
      text += decoder.decode(read.value, { stream: true });
    const events = parseSse(text);
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index));
    expect(JSON.parse(events.at(-1)?.data ?? "{}")).toMatchObject({
      error: { code: "cancelled", message: "The stream was cancelled." },
    });
    const replay = parseSse(await (await sim.call(`/v1/chat/completions/${id}/stream`)).text());
    expect(replay).toEqual(events);
    await eventually(async () => expect((await sim.stats()).aborted).toBe(1));
  });

  it("is another tenant's 404, and refuses a Last-Event-ID that is not a sequence number", async () => {
    const sim = await createSim();
    const started = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-router-resumable": "on" },
    });
    const id = started.headers.get("x-router-stream-id") ?? "";
    await started.text();
    expect((await sim.call(`/v1/chat/completions/${id}/stream`, { key: GLOBEX_KEY })).status).toBe(404);
    const bad = await sim.call(`/v1/chat/completions/${id}/stream`, { headers: { "last-event-id": "x" } });
    expect(bad.status).toBe(400);
  });

  it("passes keep-alives to live readers without keeping them", async () => {
    // A first token slower than the wait for the call's opening: the reader follows before it comes.
    const sim = await createSim({ ttftMs: 1_500, keepAliveBeforeFirstTokenMs: 50 });
    const live = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-router-resumable": "on" },
    });
    const id = live.headers.get("x-router-stream-id") ?? "";
    expect(await live.text()).toContain(": keep-alive");
    const replay = await (await sim.call(`/v1/chat/completions/${id}/stream`)).text();
    expect(replay).not.toContain(": keep-alive");
    expect(parseSse(replay).at(-1)?.data).toBe("[DONE]");
  });

  it("is on for a tenant whose policy says so, and a request can still opt out", async () => {
    const sim = await createSim();
    const digest = async (key: string) =>
      [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)))]
        .map((byte) => byte.toString(16).padStart(2, "0"))
        .join("");
    const tenants = JSON.stringify([{ id: "acme", keys: [await digest(ACME_KEY)], resumableStreams: true }]);
    const kept = await sim.call(
      "/v1/chat/completions",
      { json: chatBody({ stream: true }) },
      { ROUTER_TENANTS: tenants },
    );
    expect(kept.headers.get("x-router-stream-id")).toMatch(/^chatstream_/);
    expect(await kept.text()).toMatch(/^id: 0$/m);
    const plain = await sim.call(
      "/v1/chat/completions",
      { json: chatBody({ stream: true }), headers: { "x-router-resumable": "off" } },
      { ROUTER_TENANTS: tenants },
    );
    expect(plain.headers.get("x-router-stream-id")).toBeNull();
    expect(await plain.text()).not.toMatch(/^id:/m);
  });

  it("without opting in, a stream has no id lines and is not kept", async () => {
    const sim = await createSim();
    const plain = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) });
    expect(plain.headers.get("x-router-stream-id")).toBeNull();
    const text = await plain.text();
    expect(text).not.toMatch(/^id:/m);
    await eventually(async () => expect((await sim.stats()).completed).toBe(1));
  });
});
