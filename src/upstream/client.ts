import { RouterError } from "../errors";

/** One upstream endpoint: where to send and which credential to present. Never caller-supplied. */
interface UpstreamTarget {
  name: string;
  baseUrl: string;
  apiKey: string;
}

/**
 * Sends one request upstream. Only the body, the router's own headers and the few protocol headers a
 * surface passes on (`passed`) go out: nothing else from the caller (cookies, their Authorization).
 *
 * The answer is asked for uncompressed. The router reads every answer (usage, the cache, the trailer),
 * and on Cloudflare a subrequest asks for gzip unless told otherwise: DeepSeek's front compresses its
 * JSON answers (deepseek-api.md §1.3), and workerd would inflate a compressed stream once in each
 * branch of the relay's tee, about twice the CPU per event (BENCHMARKS.md, relay arrangements).
 * Cloudflare's edge compresses what the router sends its caller, outside the Worker.
 */
export async function sendUpstream(
  target: UpstreamTarget,
  path: string,
  body: string | Uint8Array,
  signal: AbortSignal,
  passed: Record<string, string> = {},
): Promise<Response> {
  try {
    return await fetch(`${target.baseUrl}${path}`, {
      method: "POST",
      headers: {
        ...passed,
        authorization: `Bearer ${target.apiKey}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "accept-encoding": "identity",
      },
      body,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new RouterError("upstream_error", `Could not reach the upstream '${target.name}'.`, {
      cause: error,
    });
  }
}
