import { fromZodError, RouterError } from "../errors";
import type * as z from "../zod";

/**
 * The JSON body of a management route (keys, tenants, frontend tokens): one that does not parse is a
 * 400 `invalid_json`, and the route's schema then says what is missing or wrong.
 */
export function jsonBody(request: Request): Promise<unknown> {
  return request.json().catch(invalidJson);
}

/** `text`, a body already read, as JSON, or the same 400. */
export function parseJsonBody(text: string): unknown {
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
