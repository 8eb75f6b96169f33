import { createSimulator, type SimOptionsPatch, type Simulator } from "../../../sim/app";

const KEY = "sk-test0000000000000000000000000001";
export const AUTH = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

/** A fast simulator: no time to first token, unpaced tokens. */
export function fastSim(options: SimOptionsPatch = {}): Simulator {
  return createSimulator({ ttftMs: 0, tokensPerS: 0, ...options });
}

export function post(
  sim: Simulator,
  path: string,
  body: unknown,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  return Promise.resolve(
    sim.app.request(path, {
      method: "POST",
      headers: init.headers ?? AUTH,
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...(init.signal ? { signal: init.signal } : {}),
    }),
  );
}

export function chatBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: "deepseek-flash",
    messages: [{ role: "user", content: "Explain the cache in one paragraph." }],
    ...overrides,
  };
}

type Chunk = {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    delta: Record<string, unknown> & {
      tool_calls?: Array<{
        index: number;
        id?: string;
        type?: string;
        function: { name?: string; arguments: string };
      }>;
    };
    text?: string;
    logprobs: null;
    finish_reason: string | null;
  }>;
  usage?: Record<string, unknown> | null;
};

/** Splits an SSE body into its events; comments and blank keep-alives are returned separately. */
export function parseSse(text: string): { events: string[]; comments: string[]; done: boolean } {
  const blocks = text.split("\n\n").filter((b) => b.length > 0);
  const events = blocks.filter((b) => b.startsWith("data: ") && b !== "data: [DONE]").map((b) => b.slice(6));
  const comments = blocks.filter((b) => b.startsWith(":"));
  return { events, comments, done: blocks.includes("data: [DONE]") };
}

export function chunks(text: string): Chunk[] {
  return parseSse(text).events.map((e) => JSON.parse(e) as Chunk);
}

/** Reads until the stream errors or ends; returns what arrived and whether it failed. */
export async function readAll(response: Response): Promise<{ text: string; error: unknown }> {
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let text = "";
  if (!reader) return { text, error: undefined };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: undefined };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

/** Polls `check` until it holds (or fails after `ms`). */
export async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
