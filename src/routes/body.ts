import { fromZodError, RouterError } from "../errors";
import { decodeUtf8, readBytesWithin } from "../middleware/json-body";
import type * as z from "../zod";

/**
 * A management body's limit: a key, a tenant's settings (inline JWKS included), a mint request are a
 * few KiB; reading more only lets a caller make the router buffer and parse megabytes.
 */
const MANAGEMENT_BODY_BYTES = 256 * 1024;

/**
 * The JSON body of a management route (keys, tenants, frontend tokens): one past 256 KiB is a 413, one
 * that does not parse a 400 `invalid_json`, and the route's schema then says what is missing or wrong.
 */
export async function jsonBody(request: Request): Promise<unknown> {
  return parseJsonBody(await bodyText(request));
}

/** A management body that may be left out, or sent empty: `{}` then. Otherwise as {@link jsonBody}. */
export async function optionalJsonBody(request: Request): Promise<unknown> {
  const text = request.body ? await bodyText(request) : "";
  return text.trim() === "" ? {} : parseJsonBody(text);
}

async function bodyText(request: Request): Promise<string> {
  return decodeUtf8(await readBytesWithin(request, MANAGEMENT_BODY_BYTES));
}

/** `text`, a body already read, as JSON, or the same 400. */
function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return invalidJson();
  }
}

/** `json` as `schema` reads it, or a 400 naming what is wrong in the `what` it describes. */
export function bodyAs<T extends z.ZodMiniType>(schema: T, json: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error, what);
  return parsed.data as z.output<T>;
}

export function invalidJson(): never {
  throw new RouterError("invalid_json", "The body must be a JSON object.");
}
