import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../../scripts/stack";
import { configureSim } from "./sim-control";

/**
 * Resumable chat streams (issue 24) through real sockets: the router under workerd, the simulator on
 * Node. A client reads part of an opted-in stream, its socket is destroyed, and it resumes by id.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
}, 120_000);
afterAll(() => stack?.close());

beforeEach(async () => {
  await fetch(`${stack.simUrl}/_sim/reset`, { method: "POST" });
  await configureSim(stack.simUrl, { ttftMs: 0, tokensPerS: 40, minAnswerTokens: 60, maxAnswerTokens: 60 });
});

async function simStats(): Promise<{
  requests: number;
  aborted: number;
  completed: number;
  inFlight: number;
}> {
  return (await (await fetch(`${stack.simUrl}/_sim/stats`)).json()) as never;
}

function auth(): Record<string, string> {
  return { authorization: `Bearer ${stack.routerKey}`, "content-type": "application/json" };
}

const body = () =>
  JSON.stringify({
    model: "deepseek-v4-flash",
    messages: [{ role: "user", content: `Tell me a story ${crypto.randomUUID()}` }],
    thinking: { type: "disabled" },
    stream: true,
  });

interface SseEvent {
  id?: number;
  data: string;
}

/** Whole events only: a client resumes after the last one it fully received. */
function events(text: string): SseEvent[] {
  return text
    .slice(0, text.lastIndexOf("\n\n") + 2)
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => {
      const id = /^id: (\d+)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
      return { ...(id === undefined ? {} : { id: Number(id) }), data };
    });
}

/** A raw socket that reads until `count` whole events arrived, then is destroyed. */
function readThenLeave(headers: Record<string, string>, count: number) {
  return new Promise<{ streamId: string | undefined; seen: SseEvent[] }>((resolve, reject) => {
    const req = httpRequest(
      new URL(`${stack.routerUrl}/v1/chat/completions`),
      { method: "POST", headers: { ...auth(), ...headers } },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (events(text).length >= count) {
            req.destroy();
            resolve({
              streamId: res.headers["x-router-stream-id"] as string | undefined,
              seen: events(text),
            });
          }
        });
        res.on("error", () => {});
      },
    );
    req.on("error", (error) => (req.destroyed ? undefined : reject(error)));
    req.end(body());
  });
}

async function usage(): Promise<{ totals: { requests: number }; byOutcome: Record<string, number> }> {
  return (await (await fetch(`${stack.routerUrl}/v1/usage`, { headers: auth() })).json()) as never;
}

async function waitFor(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe("a chat stream cut by its client mid-answer", () => {
  it("opted in: runs to the end upstream and resumes with Last-Event-ID, nothing duplicated or missing, billed once", async () => {
    const before = await usage();
    const { streamId, seen } = await readThenLeave({ "x-router-resumable": "on" }, 3);
    expect(streamId).toMatch(/^chatstream_/);
    const last = seen.at(-1)?.id ?? -1;
    expect(last).toBeGreaterThanOrEqual(2);
    // The upstream call goes on without the client.
    await waitFor(async () => expect(await simStats()).toMatchObject({ completed: 1, aborted: 0 }));

    const resumed = await fetch(`${stack.routerUrl}/v1/chat/completions/${streamId}/stream`, {
      headers: { ...auth(), "last-event-id": String(last) },
    });
    expect(resumed.status).toBe(200);
    const rest = events(await resumed.text());
    const all = [...seen, ...rest];
    expect(all.map((event) => event.id)).toEqual(all.map((_, index) => index));
    expect(all.at(-1)?.data).toBe("[DONE]");
    expect((await simStats()).requests).toBe(1);
    await waitFor(async () => expect((await usage()).totals.requests - before.totals.requests).toBe(1));
    const after = await usage();
    expect((after.byOutcome.complete ?? 0) - (before.byOutcome.complete ?? 0)).toBe(1);
  }, 30_000);

  it("not opted in: the upstream call is aborted, as before", async () => {
    const { streamId, seen } = await readThenLeave({}, 3);
    expect(streamId).toBeUndefined();
    expect(seen.every((event) => event.id === undefined)).toBe(true);
    await waitFor(async () => expect(await simStats()).toMatchObject({ aborted: 1, inFlight: 0 }), 3_000);
    expect((await simStats()).completed).toBe(0);
  }, 30_000);
});

describe("a kept chat stream read slowly", () => {
  it("hands a reader that stalls every event once, in order, while a brisk reader follows live", async () => {
    await configureSim(stack.simUrl, {
      ttftMs: 0,
      tokensPerS: 200,
      minAnswerTokens: 200,
      maxAnswerTokens: 200,
    });
    let brisk: Promise<string> | undefined;
    const stalled = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        new URL(`${stack.routerUrl}/v1/chat/completions`),
        { method: "POST", headers: { ...auth(), "x-router-resumable": "on" } },
        (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => {
            text += chunk.toString();
            if (brisk) return;
            // Another reader follows the same answer live, while this socket stops being read after its
            // first bytes, until the answer has ended upstream.
            const id = res.headers["x-router-stream-id"];
            brisk = fetch(`${stack.routerUrl}/v1/chat/completions/${id}/stream`, { headers: auth() }).then(
              (response) => response.text(),
            );
            res.pause();
            void waitFor(async () => expect((await simStats()).completed).toBe(1)).then(() => res.resume());
          });
          res.on("end", () => resolve(text));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body());
    });
    const all = events(stalled);
    expect(all.length).toBeGreaterThan(200);
    expect(all.map((event) => event.id)).toEqual(all.map((_, index) => index));
    expect(all.at(-1)?.data).toBe("[DONE]");
    expect(events((await brisk) ?? "")).toEqual(all);
  }, 30_000);
});
