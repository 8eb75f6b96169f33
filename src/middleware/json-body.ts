import type { Context } from "hono";
import { concatBytes } from "../bytes";
import type { AppEnv } from "../env";
import { fromZodError, RouterError } from "../errors";
import type * as z from "../zod";
import { assertNestingWithin, type MAX_JSON_DEPTH } from "./json-depth";

/**
 * Reads the body up to the configured limit (413 past it, without buffering the excess), parses JSON
 * (400 on anything else, or on nesting past {@link MAX_JSON_DEPTH}) and validates it with `schema` (400 naming the field). Unknown fields survive.
 */
export async function readJsonBody<S extends z.ZodMiniType>(
  c: Context<AppEnv>,
  schema: S,
): Promise<{ body: z.output<S>; raw: Uint8Array }> {
  const limit = c.get("settings").MAX_BODY_BYTES;
  const raw = await readBytesWithin(c.req.raw, limit);
  const text = decodeUtf8(raw);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RouterError("invalid_json", "The request body is not valid JSON.");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new RouterError("invalid_json", "The request body must be a JSON object.");
  }
  assertNestingWithin(json);
  // Before validation: a request refused for its body still names the model it asked for.
  c.get("timeline")?.ask((json as { model?: unknown }).model);
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  // The decoder drops a byte-order mark; so does what is forwarded.
  return { body: parsed.data, raw: hasBom(raw) ? raw.subarray(3) : raw };
}

function hasBom(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/**
 * The body's bytes, kept as they came: forwarded upstream untouched when nothing about the request
 * changes, so a prompt of megabytes is not encoded again.
 */
export async function readBytesWithin(request: Request, limit: number): Promise<Uint8Array> {
  const length = request.headers.get("content-length");
  const declared = length === null ? Number.NaN : Number(length);
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) throw new RouterError("invalid_json", "The request body is empty.");
  // A declared length within the limit is what the runtime will deliver, no more: read it natively
  // in one piece. Only a body of unknown length is read in chunks, counting as it goes.
  return Number.isFinite(declared)
    ? new Uint8Array(await request.arrayBuffer())
    : await readChunksWithin(request.body, limit);
}

/**
 * One decoder for every request: a decode without `stream` starts from a fresh state (WHATWG
 * Encoding), so nothing carries over, not even after a refused body; a new one per request cost ~4 µs.
 */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new RouterError("invalid_json", "The request body is not valid UTF-8.");
  }
}

async function readChunksWithin(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    parts.push(value);
  }
  return concatBytes(parts);
}

function tooLarge(limit: number): RouterError {
  return new RouterError(
    "payload_too_large",
    `The request body exceeds the router's limit of ${limit} bytes.`,
  );
}
