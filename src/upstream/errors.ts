import { RouterError } from "../errors";
import { retryAfter as retryAfterHeaders } from "../headers";

const MAX_ERROR_BODY = 64 * 1024;
const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * Turns an upstream error response into the router's error, keeping DeepSeek's own message and type for
 * the caller's mistakes (4xx) but never anything that describes the router's upstream account: a 401
 * or 402 there is the operator's problem, and DeepSeek's 401 text even echoes the key's last characters.
 */
export async function upstreamError(
  response: Response,
  target: { name: string; secret: string },
): Promise<RouterError> {
  const targetName = target.name;
  const body = await readBounded(response);
  const wire = redacted(parseEnvelope(parseJson(body)), target.secret);
  const status = response.status;
  // The upstream's own wait when it names one; otherwise a second, so a client's SDK backs off
  // instead of guessing (DeepSeek's 429 and 503 carry none).
  const retryAfter = response.headers.get("retry-after");
  const headers: Record<string, string> = retryAfter
    ? { "retry-after": retryAfter }
    : retryAfterHeaders(DEFAULT_RETRY_AFTER_MS);

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
    // DeepSeek's text is about the operator's account ("top up your balance"), not the caller's.
    return new RouterError(
      "rate_limited",
      `The upstream '${targetName}' is at its account's concurrency or rate limit; retry shortly.`,
      { headers, type: "rate_limit_error" },
    );
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

const MAX_JSON_ANSWER_BYTES = 32 * 1024 * 1024;

/** The parts of a non-streamed answer the router reads. */
export interface JsonAnswer {
  usage?: unknown;
  choices?: Array<{ finish_reason?: unknown }>;
}

/**
 * A non-streamed 200 body, judged before the router commits to it: an answer, an error the upstream
 * put in a 200 (an error whatever its status), or something cut or garbled.
 */
export function readJsonAnswer(
  text: string,
  secret: string,
):
  | { kind: "answer"; body: JsonAnswer }
  | { kind: "error"; error: RouterError }
  | { kind: "invalid"; message: string } {
  if (text.length > MAX_JSON_ANSWER_BYTES)
    return { kind: "invalid", message: "The upstream answer exceeds the router's size limit." };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: "invalid", message: "The upstream broke off its answer: it is not valid JSON." };
  }
  if (typeof body !== "object" || body === null)
    return { kind: "invalid", message: "The upstream answer is not a JSON object." };
  const wire = redacted(parseEnvelope(body), secret);
  if (wire) {
    const why = wire.message ?? "The upstream answered with an error.";
    return { kind: "error", error: new RouterError("upstream_error", why) };
  }
  return { kind: "answer", body: body as JsonAnswer };
}

/** The first event of a stream, when it is an error rather than an answer. */
export function streamedError(payload: string, secret: string): RouterError {
  const wire = redacted(parseEnvelope(parseJson(payload)), secret);
  return new RouterError("upstream_error", wire?.message ?? "The upstream answered with an error.");
}

/**
 * An upstream's error text with the router's credential for it taken out: a broken or hostile upstream
 * may echo the Authorization header, and its messages are passed on to callers.
 */
function redactSecret(text: string, secret: string): string {
  return secret.length >= 8 ? text.replaceAll(secret, "[redacted]") : text;
}

function redacted(wire: WireError | undefined, secret: string): WireError | undefined {
  if (!wire) return undefined;
  return { ...wire, ...(wire.message ? { message: redactSecret(wire.message, secret) } : {}) };
}

interface WireError {
  message?: string;
  type?: string;
  param?: string | null;
}

function parseEnvelope(body: unknown): WireError | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const envelope = (body as { error?: unknown }).error;
  if (typeof envelope !== "object" || envelope === null) return undefined;
  const error = envelope as Record<string, unknown>;
  return {
    message: typeof error.message === "string" ? error.message : undefined,
    type: typeof error.type === "string" ? error.type : undefined,
    param: typeof error.param === "string" ? error.param : null,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
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
