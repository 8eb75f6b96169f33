import { sendUpstream } from "../client";
import { OpenAiShapeNormalizer, rewriteSse } from "./normalize";
import { bodyFor, type Provider, secretOf } from "./types";

/** Fields only DeepSeek understands; strict OpenAI-compatible servers reject unknown parameters. */
const DEEPSEEK_ONLY = ["thinking", "user_id"] as const;

/**
 * Any OpenAI-compatible host serving DeepSeek models (Together, Fireworks, OpenRouter, a vLLM serving
 * DeepSeek-Coder-V2 or DeepSeek-VL2). Requests are sent with the host's model id; answers come back
 * rewritten into DeepSeek's shape, streaming included.
 */
export const openAiCompatibleProvider: Provider = {
  async send(call, target, env, signal) {
    const path = call.endpoint === "fim" ? "/completions" : "/chat/completions";
    const upstream = { name: target.name, baseUrl: target.baseUrl ?? "", apiKey: secretOf(env, target) };
    const response = await sendUpstream(upstream, path, bodyFor(call, {}, DEEPSEEK_ONLY), signal);
    if (!response.ok || !response.body) return response;
    const normalizer = new OpenAiShapeNormalizer(call.step.model);
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    if (call.stream) {
      return new Response(
        rewriteSse(response.body, (chunk) => [normalizer.chunk(chunk)]),
        { status: 200, headers },
      );
    }
    const text = (await response.text()).trim();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      return new Response(text, { status: 200, headers });
    }
    if (typeof answer !== "object" || answer === null) return new Response(text, { status: 200, headers });
    return Response.json(normalizer.answer(answer as Record<string, unknown>), { status: 200, headers });
  },
};
