import { Hono } from "hono";
import type { AppEnv } from "../env";
import { readJsonBody } from "../middleware/json-body";
import { reasoningRoundTrip } from "../proxy/reasoning";
import { serveInference } from "../proxy/serve";
import { chatRequest } from "../schema/chat";
import { serveResumable, wantsResumable } from "./resumable";

/** `POST /chat/completions`, as DeepSeek serves it at its root, under `/v1` and under `/beta`. */
export const CHAT_PATHS = ["/chat/completions", "/v1/chat/completions", "/beta/chat/completions"] as const;

export const chat = new Hono<AppEnv>();

for (const path of CHAT_PATHS) {
  // Beta features (prefix completion, strict tools) exist only on DeepSeek's /beta base.
  const beta = path.startsWith("/beta/");
  chat.post(path, async (c) => {
    const { body, raw } = await readJsonBody(c, chatRequest);
    // Opted-in streams (issue 24) are run by an owner, which sends them back through this same route.
    if (wantsResumable(c, body.stream)) return serveResumable(c, path, raw);
    // Thinking-mode tool calls: reasoning a client dropped is put back; a tool-calling answer's is kept.
    const { body: sent, rawBody, observers } = await reasoningRoundTrip(c, body, raw);
    return serveInference(c, { request: { endpoint: "chat", body: sent }, rawBody, beta, observers });
  });
}
