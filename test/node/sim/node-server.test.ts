import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimServer, startSimServer } from "../../../sim/node";
import { AUTH, chatBody, parseSse } from "./helpers";

let server: SimServer;

beforeAll(async () => {
  server = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
});

afterAll(async () => {
  await server.close();
});

async function instance(
  options: Record<string, unknown>,
): Promise<{ baseUrl: string; stats: () => Promise<Stats> }> {
  const res = await fetch(`${server.url}/_sim/instances`, { method: "POST", body: JSON.stringify(options) });
  const { id, baseUrl } = (await res.json()) as { id: string; baseUrl: string };
  return {
    baseUrl,
    stats: async () => (await (await fetch(`${server.url}/_sim/instances/${id}/stats`)).json()) as Stats,
  };
}

type Stats = { inFlight: number; aborted: number; completed: number; queued: number; queuedNow: number };

const streamInit = (signal?: AbortSignal): RequestInit => ({
  method: "POST",
  headers: AUTH,
  body: JSON.stringify(chatBody({ stream: true })),
  ...(signal ? { signal } : {}),
});

describe("startSimServer on 127.0.0.1", () => {
  it("listens on an ephemeral loopback port and serves a full stream", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`${server.url}/v1/chat/completions`, streamInit());
    expect(res.headers.get("x-ds-trace-id")).toMatch(/^[0-9a-f]{32}$/);
    expect(parseSse(await res.text()).done).toBe(true);
  });

  it("cancels the stream when the client disconnects: slot freed, counted as aborted", async () => {
    const sim = await instance({
      concurrency: 1,
      tokensPerS: 20,
      minAnswerTokens: 200,
      maxAnswerTokens: 200,
    });
    const ac = new AbortController();
    const res = await fetch(`${sim.baseUrl}/chat/completions`, streamInit(ac.signal));
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(new TextDecoder().decode(first?.value)).toContain("data: ");
    expect((await sim.stats()).inFlight).toBe(1);
    ac.abort();
    let stats = await sim.stats();
    for (let i = 0; i < 100 && (stats.inFlight !== 0 || stats.aborted !== 1); i++) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await sim.stats();
    }
    expect(stats).toMatchObject({ inFlight: 0, aborted: 1, completed: 0 });
    const next = await fetch(`${sim.baseUrl}/chat/completions`, {
      ...streamInit(),
      body: JSON.stringify(chatBody({ max_tokens: 2 })),
    });
    expect(next.status).toBe(200);
    await next.text();
  });

  it("writes queue keep-alives on the wire before the first data event", async () => {
    const sim = await instance({
      concurrency: 1,
      overload: "queue",
      queueKeepAliveMs: 20,
      faultScript: [{ kind: "slow", ttftMs: 300 }],
    });
    const holder = fetch(`${sim.baseUrl}/chat/completions`, streamInit());
    await new Promise((r) => setTimeout(r, 30));
    const queued = await fetch(`${sim.baseUrl}/chat/completions`, streamInit());
    const text = await queued.text();
    expect(text.startsWith(": keep-alive\n\n: keep-alive\n\n")).toBe(true);
    expect(parseSse(text).done).toBe(true);
    await (await holder).text();
    expect(await sim.stats()).toMatchObject({ queued: 1, completed: 2, inFlight: 0 });
  });

  it("resets the connection on a cut fault", async () => {
    const sim = await instance({ faultScript: [{ kind: "cutMidStream", afterChunks: 2 }] });
    const res = await fetch(`${sim.baseUrl}/chat/completions`, streamInit());
    await expect(res.text()).rejects.toThrow();
  });
});

describe("npm run sim", () => {
  it("prints the flags with --help", async () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const tsx = fileURLToPath(new URL("../../../node_modules/tsx/dist/cli.mjs", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [tsx, "sim/node.ts", "--help"], {
      cwd: root,
    });
    expect(stdout).toContain("--concurrency");
    expect(stdout).toContain("SIM_TTFT_MS");
    expect(stdout).toContain("--error-rate");
  });
});
