import type { Context } from "hono";
import type { AnswerObserver } from "../answer";
import { MAX_REASONING_CHARS, ReasoningStore } from "../cache/reasoning-store";
import type { Tenant } from "../config/tenants";
import type { AppEnv } from "../env";
import type { ChatMessage, ChatRequest } from "../schema/chat";

/**
 * Thinking-mode tool calls that work with any client. DeepSeek refuses (400 "The `reasoning_content` in
 * the thinking mode must be passed back to the API.") a conversation whose tool-calling assistant turn
 * comes back without its reasoning, and most OpenAI-shaped clients drop that field (deepseek-api.md §3.4).
 * The router keeps each tool-calling answer's reasoning (see {@link ReasoningStore}) and puts it back.
 * When it is no longer held, it sends what DeepSeek accepts instead: an empty string (§3.4).
 */

type Assistant = Extract<ChatMessage, { role: "assistant" }>;

/**
 * A chat request on its way in: its reasoning put back where it is missing (the body then re-serialised),
 * and, when its answer may call tools, an observer that keeps that answer's reasoning.
 */
export async function reasoningRoundTrip(
  c: Context<AppEnv>,
  body: ChatRequest,
  raw: string | Uint8Array,
): Promise<{ body: ChatRequest; rawBody: string | Uint8Array; observers?: AnswerObserver[] }> {
  const tenant = c.get("tenant");
  const store = new ReasoningStore(c.env.CACHE);
  const restored = await restoreReasoning(body, tenant, store);
  const out = { body: restored ?? body, rawBody: restored ? JSON.stringify(restored) : raw };
  if ((body.tools?.length ?? 0) === 0 || !restoresReasoning(tenant, body)) return out;
  const keep = (ids: string[], reasoning: string) =>
    c.executionCtx.waitUntil(store.put(tenant.id, ids, reasoning).catch(logKeepFailure));
  return { ...out, observers: [keepReasoning(body.stream === true, keep, MAX_REASONING_CHARS)] };
}

/** Reasoning that could not be kept only means the fallback applies later; the answer is unaffected. */
function logKeepFailure(error: unknown): void {
  console.error(JSON.stringify({ event: "reasoning_keep_failed", error: String(error) }));
}

/** Whether the router keeps and restores reasoning for this tenant's requests: on unless turned off. */
function restoresReasoning(tenant: Tenant, body: ChatRequest): boolean {
  return tenant.restoreReasoning !== false && body.thinking?.type !== "disabled";
}

/**
 * The request with the reasoning of its tool-calling turns put back, or undefined when nothing is
 * missing (then nothing is read, and the caller's bytes are relayed untouched). Only turns that called
 * tools need it, and there DeepSeek wants it on every assistant message, as its validator does.
 */
export async function restoreReasoning(
  body: ChatRequest,
  tenant: Tenant,
  store: ReasoningStore,
): Promise<ChatRequest | undefined> {
  if (!restoresReasoning(tenant, body)) return undefined;
  const lacking = assistantsLackingReasoning(body.messages);
  if (lacking.size === 0) return undefined;
  const ids = [...lacking].flatMap((message) => (message.tool_calls ?? []).map((call) => call.id));
  const held = await store.get(tenant.id, ids);
  const messages = body.messages.map((message) => {
    if (message.role !== "assistant" || !lacking.has(message)) return message;
    const kept = (message.tool_calls ?? []).map((call) => held.get(call.id)).find((r) => r !== undefined);
    return { ...message, reasoning_content: kept ?? "" };
  });
  return { ...body, messages };
}

function assistantsLackingReasoning(messages: readonly ChatMessage[]): Set<Assistant> {
  const lacking = new Set<Assistant>();
  let turn: Assistant[] = [];
  let calledTools = false;
  const close = () => {
    if (calledTools) for (const message of turn) if (message.reasoning_content == null) lacking.add(message);
    turn = [];
    calledTools = false;
  };
  for (const message of messages) {
    if (message.role === "user") close();
    else if (message.role === "assistant") {
      turn.push(message);
      calledTools ||= (message.tool_calls?.length ?? 0) > 0;
    }
  }
  close();
  return lacking;
}

/**
 * Watches a thinking-mode answer to a request that offered tools (no other answer can call one) and,
 * if it called tools and completed, keeps its reasoning under its tool-call ids. Reads only the events
 * that carry reasoning or tool calls; stops collecting past the size the store keeps.
 */
export function keepReasoning(
  stream: boolean,
  keep: (toolCallIds: string[], reasoning: string) => void,
  maxChars: number,
): AnswerObserver {
  let reasoning = "";
  const ids: string[] = [];
  let json = "";
  const absorb = (message: { reasoning_content?: unknown; tool_calls?: unknown }) => {
    if (typeof message.reasoning_content === "string" && reasoning.length <= maxChars)
      reasoning += message.reasoning_content;
    if (!Array.isArray(message.tool_calls)) return;
    for (const call of message.tool_calls as Array<{ id?: unknown }>)
      if (typeof call?.id === "string") ids.push(call.id);
  };
  const decoder = new TextDecoder();
  return {
    chunk(bytes) {
      if (!stream) json += decoder.decode(bytes, { stream: true });
    },
    event(payload) {
      if (!payload.includes('"reasoning_content":"') && !payload.includes('"tool_calls"')) return;
      const chunk = parseJson(payload) as { choices?: Array<{ delta?: object }> } | undefined;
      const delta = chunk?.choices?.[0]?.delta;
      if (delta) absorb(delta);
    },
    end(end) {
      if (!stream) {
        const answer = parseJson(json) as { choices?: Array<{ message?: object }> } | undefined;
        const message = answer?.choices?.[0]?.message;
        if (message) absorb(message);
      }
      if (end.outcome === "complete" && ids.length > 0 && reasoning.length <= maxChars) keep(ids, reasoning);
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
