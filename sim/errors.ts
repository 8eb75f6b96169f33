/**
 * Error responses with DeepSeek's verbatim messages and envelope
 * (`{"error":{"message","type","param":null,"code"}}`); see deepseek-api.md §1.2, §3.2, §6.2.
 */

export interface SimError {
  status: number;
  contentType: string;
  body: string;
}

function envelope(status: number, message: string, type: string, code: string): SimError {
  return {
    status,
    contentType: "application/json",
    body: JSON.stringify({ error: { message, type, param: null, code } }),
  };
}

export function invalidRequest(message: string, status = 400): SimError {
  return envelope(status, message, "invalid_request_error", "invalid_request_error");
}

export const authHeaderFormat = (): SimError =>
  envelope(
    401,
    "Authentication Fails (auth header format should be Bearer sk-...)",
    "authentication_error",
    "invalid_request_error",
  );

export const authInvalidKey = (key: string): SimError =>
  envelope(
    401,
    `Authentication Fails, Your api key: ****${key.slice(-4)} is invalid`,
    "authentication_error",
    "invalid_request_error",
  );

export const insufficientBalance = (): SimError =>
  envelope(402, "Insufficient Balance", "unknown_error", "invalid_request_error");

export const modelNotExist = (): SimError => invalidRequest("Model Not Exist");

export const maxTokensRange = (max: number): SimError =>
  invalidRequest(`Invalid max_tokens value, the valid range of max_tokens is [1, ${max}]`);

export const contextOverflow = (context: number, prompt: number, completion: number): SimError =>
  invalidRequest(
    `This model's maximum context length is ${context} tokens. However, you requested ${prompt + completion} tokens (${prompt} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion.`,
  );

/** serde data errors: 422 in the legacy era, 400 since 2025. */
export const deserializeFailed = (detail: string, status: 400 | 422): SimError =>
  invalidRequest(`Failed to deserialize the JSON body into the target type: ${detail}`, status);

export const jsonSyntax = (detail: string): SimError =>
  invalidRequest(`Failed to parse the request body as JSON: ${detail}`);

export const concurrencyExceeded = (current: number, limit: number): SimError =>
  envelope(
    429,
    `Too many requests. Your current concurrency is ${current}, which exceeds your concurrency limit of ${limit} based on your remaining balance. Please top up your balance to restore your concurrency.`,
    "rate_limit_error",
    "invalid_request_error",
  );

export const serviceBusy = (): SimError =>
  envelope(
    503,
    "Service is too busy. We advise users to temporarily switch to alternative LLM API service providers.",
    "service_unavailable_error",
    "service_unavailable_error",
  );

export const internalError = (): SimError =>
  envelope(500, "Internal Server Error", "internal_error", "internal_error");

/** 502/504 come from the CDN in front of DeepSeek, as an HTML page rather than the JSON envelope. */
export function gatewayError(status: 502 | 504): SimError {
  const title = status === 502 ? "502 Bad Gateway" : "504 Gateway Time-out";
  return {
    status,
    contentType: "text/html",
    body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n`,
  };
}

/** Not DeepSeek's behaviour: a broken upstream that puts the caller's credentials in an error. */
export function keyEcho(status: 200 | 400 | 500, key: string, stream: boolean): SimError {
  const error = envelope(
    status,
    `Request rejected for Authorization: Bearer ${key}`,
    "invalid_request_error",
    "invalid_request_error",
  );
  if (!stream || status !== 200) return error;
  return {
    status,
    contentType: "text/event-stream; charset=utf-8",
    body: `data: ${error.body}\n\ndata: [DONE]\n\n`,
  };
}
