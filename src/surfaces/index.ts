import type { RouterError } from "../errors";
import { ANTHROPIC } from "./anthropic";
import { RESPONSES } from "./responses";
import type { Dialect, ErrorFacts, WireEndpoint } from "./types";

export type { Dialect, EventReader, EventReading, SurfaceCall, WireEndpoint } from "./types";

/**
 * The dialect that reads and re-frames answers of `endpoint`, or undefined for DeepSeek's own formats
 * (chat completions, FIM), which the core reads directly.
 */
export function dialectOf(endpoint: WireEndpoint): Dialect | undefined {
  if (endpoint === "messages") return ANTHROPIC;
  if (endpoint === "responses") return RESPONSES;
  return undefined;
}

/** A request as a front door hands it to the core: the internal request, and its own wire form if any. */
interface WireCarrier {
  request: { endpoint: WireEndpoint; body: object };
  surface?: { endpoint: WireEndpoint; body: Record<string, unknown> };
}

/** The wire format and body a call is sent, keyed and answered in. */
export function wireOf(call: WireCarrier): { endpoint: WireEndpoint; body: Record<string, unknown> } {
  return (
    call.surface ?? { endpoint: call.request.endpoint, body: call.request.body as Record<string, unknown> }
  );
}

/** An error as a response, in the envelope of the surface the request came through. */
export function errorResponse(error: RouterError, surface: WireEndpoint = "chat"): Response {
  const dialect = dialectOf(surface);
  if (!dialect) return error.toResponse();
  const rendered = dialect.errorBody(factsOf(error));
  return Response.json(rendered.body, { status: rendered.status, headers: error.headers });
}

/**
 * An error told in-band, after a stream's first byte: one SSE event the surface's SDKs raise. `sent`:
 * the data events the client already has (the Responses surface numbers the error after them).
 */
export function errorEvent(error: RouterError, surface: WireEndpoint = "chat", sent = 0): Uint8Array {
  const dialect = dialectOf(surface);
  if (dialect) return dialect.errorEvent(factsOf(error), sent);
  return new TextEncoder().encode(`data: ${JSON.stringify(error.toEnvelope())}\n\n`);
}

function factsOf(error: RouterError): ErrorFacts {
  const { status, type, message, code, param } = error;
  return { status, type, message, code, param };
}
