import { HTTPException } from "hono/http-exception";
import type * as z from "./zod";

/**
 * Every error a caller can see. Each maps to one HTTP status and one DeepSeek/OpenAI error `type`,
 * so the official clients raise the matching typed error (BadRequestError, RateLimitError, ...).
 */
const ERRORS = {
  invalid_json: { status: 400, type: "invalid_request_error" },
  invalid_request: { status: 400, type: "invalid_request_error" },
  model_not_found: { status: 400, type: "invalid_request_error" },
  unroutable: { status: 400, type: "invalid_request_error" },
  unauthorized: { status: 401, type: "authentication_error" },
  /** A tenant's budget for the day or month is spent: retrying before its reset cannot help (section "Limits" of docs/ARCHITECTURE.md). */
  budget_exhausted: { status: 402, type: "insufficient_quota" },
  model_not_allowed: { status: 403, type: "permission_error" },
  origin_not_allowed: { status: 403, type: "permission_error" },
  /** Frontend tokens (issue 23): minting beyond the parent key, a key that may not mint, a surface tokens may not use. */
  scope_exceeded: { status: 403, type: "permission_error" },
  mint_not_allowed: { status: 403, type: "permission_error" },
  frontend_token_not_allowed: { status: 403, type: "permission_error" },
  server_key_in_browser: { status: 403, type: "permission_error" },
  turnstile_failed: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  payload_too_large: { status: 413, type: "invalid_request_error" },
  rate_limited: { status: 429, type: "rate_limit_error" },
  requests_per_minute_exceeded: { status: 429, type: "rate_limit_error" },
  tokens_per_minute_exceeded: { status: 429, type: "rate_limit_error" },
  pool_saturated: { status: 429, type: "rate_limit_error" },
  tenant_concurrency_limit: { status: 429, type: "rate_limit_error" },
  queue_timeout: { status: 429, type: "rate_limit_error" },
  /** A dollar budget refused only for what is lent and unspent (requests in flight, spare): it may fit once they end. */
  budget_reserved: { status: 429, type: "rate_limit_error" },
  /** A tenant keeps as many answers, or as many bytes of them, as it may (issue 24). */
  kept_answers_quota: { status: 429, type: "insufficient_quota" },
  /** The caller left before an answer; nobody reads this one, but it must not count as our failure. */
  client_closed: { status: 499, type: "invalid_request_error" },
  internal_error: { status: 500, type: "internal_error" },
  upstream_error: { status: 502, type: "upstream_error" },
  upstream_auth: { status: 502, type: "upstream_error" },
  upstream_unavailable: { status: 503, type: "service_unavailable_error" },
  configuration_error: { status: 503, type: "service_unavailable_error" },
  admission_unavailable: { status: 503, type: "service_unavailable_error" },
  deadline_exceeded: { status: 504, type: "timeout_error" },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Whether `code` is one of the router's own error codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string };
}

interface RouterErrorOptions {
  param?: string | null;
  headers?: Record<string, string>;
  /** Overrides the code's default status, e.g. to relay an upstream 4xx unchanged. */
  status?: number;
  /** Overrides the code's default type, e.g. to relay an upstream error's own type. */
  type?: string;
  cause?: unknown;
}

/** The one error type of the router; `app.onError` renders it as the DeepSeek error envelope. */
export class RouterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: RouterErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "RouterError";
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.type = options.type ?? ERRORS[code].type;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  /** Adds response headers (decision headers, Retry-After) to the error response. */
  withHeaders(headers: Headers | Record<string, string>): this {
    const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers);
    for (const [name, value] of entries) this.headers[name] = value;
    return this;
  }

  toEnvelope(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  toResponse(extraHeaders: Record<string, string> = {}): Response {
    return Response.json(this.toEnvelope(), {
      status: this.status,
      headers: { ...this.headers, ...extraHeaders },
    });
  }
}

/** `messages[1].content` style, as DeepSeek and OpenAI name parameters. */
function paramPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

export function fromZodError(error: z.core.$ZodError, what = "request"): RouterError {
  const issue = error.issues[0];
  if (!issue) return new RouterError("invalid_request", `Invalid ${what}.`);
  const param = paramPath(issue.path);
  const message = param === "" ? issue.message : `Invalid value for '${param}': ${issue.message}`;
  return new RouterError("invalid_request", message, { param: param === "" ? null : param });
}

const HTTP_STATUS_CODES: Record<number, ErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  429: "rate_limited",
};

export function toRouterError(err: unknown): RouterError {
  if (err instanceof RouterError) return err;
  if (err instanceof HTTPException) {
    const code = HTTP_STATUS_CODES[err.status] ?? "internal_error";
    return new RouterError(code, err.message || "Request failed.", { status: err.status });
  }
  return new RouterError("internal_error", "The router failed to handle this request.", { cause: err });
}

/**
 * The router's error for anything thrown, logged once when it is the router's own fault. Every path
 * that turns an exception into something a caller sees goes through here: `app.onError` for a
 * response (in the surface's envelope, `errorResponse` in src/surfaces/), and a committed stream's
 * in-band error event.
 */
export function reportError(err: unknown, requestId: string | undefined): RouterError {
  const routerError = toRouterError(err);
  if (routerError.code === "internal_error") {
    const cause = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    console.error(JSON.stringify({ event: "internal_error", requestId, cause }));
  }
  return routerError;
}
