import { RouterError } from "../errors";

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Turns an upstream error response into the router's error, keeping DeepSeek's own message and type for
 * the caller's mistakes (4xx) but never anything that describes the router's upstream account: a 401
 * or 402 there is the operator's problem, and DeepSeek's 401 text even echoes the key's last characters.
 */
export async function upstreamError(response: Response, targetName: string): Promise<RouterError> {
  const body = await readBounded(response);
  const wire = parseEnvelope(body);
  const status = response.status;
  const retryAfter = response.headers.get("retry-after");
  const headers: Record<string, string> = retryAfter ? { "retry-after": retryAfter } : {};

  if (status === 401 || status === 403) {
    return new RouterError(
      "upstream_auth",
      `The upstream '${targetName}' rejected the router's credentials.`,
    );
  }
  if (status === 402) {
    return new RouterError(
      "upstream_unavailable",
      `The upstream '${targetName}' account cannot serve requests.`,
    );
  }
  if (status === 429) {
    return new RouterError("rate_limited", wire?.message ?? "The upstream is rate limiting requests.", {
      headers,
      type: "rate_limit_error",
    });
  }
  if (status >= 400 && status < 500) {
    return new RouterError(
      "invalid_request",
      wire?.message ?? `The upstream rejected the request (${status}).`,
      {
        status,
        type: wire?.type ?? "invalid_request_error",
        param: wire?.param ?? null,
      },
    );
  }
  if (status === 503) {
    return new RouterError("upstream_unavailable", wire?.message ?? "The upstream is overloaded.", {
      headers,
    });
  }
  return new RouterError("upstream_error", wire?.message ?? `The upstream failed (${status}).`);
}

interface WireError {
  message?: string;
  type?: string;
  param?: string | null;
}

function parseEnvelope(body: string): WireError | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error !== "object" || parsed.error === null) return undefined;
    const error = parsed.error as Record<string, unknown>;
    return {
      message: typeof error.message === "string" ? error.message : undefined,
      type: typeof error.type === "string" ? error.type : undefined,
      param: typeof error.param === "string" ? error.param : null,
    };
  } catch {
    return undefined;
  }
}

async function readBounded(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (text.length < MAX_ERROR_BODY) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}
