import { sendUpstream } from "../client";
import { bodyFor, type Provider, secretOf, type UpstreamCall } from "./types";

/** Where DeepSeek serves each wire format (deepseek-api.md §1.1, api-surfaces.md §1.1, §3.5). */
function pathFor(call: UpstreamCall): string {
  if (call.endpoint === "fim") return "/beta/completions";
  if (call.endpoint === "messages") return "/anthropic/v1/messages";
  if (call.endpoint === "responses") return "/responses";
  return call.beta ? "/beta/chat/completions" : "/chat/completions";
}

/**
 * DeepSeek's own API, which serves every surface the router has: the wire format is already the
 * caller's, so bytes pass through untouched both ways (the body is re-serialised only when the plan
 * changes the model or switches thinking off).
 */
export const deepseekProvider: Provider = {
  relays: ["messages", "responses"],
  send(call, target, env, signal) {
    return sendUpstream(
      { name: target.name, baseUrl: target.baseUrl ?? "", apiKey: secretOf(env, target) },
      pathFor(call),
      bodyFor(call),
      signal,
      call.headers,
    );
  },
};
