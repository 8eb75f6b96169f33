import type { Context } from "hono";
import type { AppEnv } from "../env";

/**
 * Sets a header on the answer on its way out. An answer passed on from another fetch (a Durable
 * Object's, an owner's) has immutable headers: it is wrapped once, its body handed on untouched.
 */
export function stampResponse(
  c: Context<AppEnv>,
  name: string,
  value: string,
  options: { append?: boolean } = {},
): void {
  try {
    setOn(c.res.headers, name, value, options.append);
  } catch {
    c.res = new Response(c.res.body, c.res);
    setOn(c.res.headers, name, value, options.append);
  }
}

function setOn(headers: Headers, name: string, value: string, append = false): void {
  if (append) headers.append(name, value);
  else headers.set(name, value);
}
