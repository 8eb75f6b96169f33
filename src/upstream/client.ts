import { RouterError } from "../errors";

/** One upstream endpoint: where to send and which credential to present. Never caller-supplied. */
interface UpstreamTarget {
  name: string;
  baseUrl: string;
  apiKey: string;
}

/**
 * Sends one request upstream. Only the body and the router's own headers go out: nothing from the
 * caller's headers (cookies, their Authorization) is forwarded.
 */
export async function sendUpstream(
  target: UpstreamTarget,
  path: string,
  body: string,
  signal: AbortSignal,
): Promise<Response> {
  try {
    return await fetch(`${target.baseUrl}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${target.apiKey}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
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
