import { describe, expect, it } from "vitest";
import { awaitFirstEvent } from "../../../src/upstream/first-event";

const encoder = new TextEncoder();
const FAR = Date.now() + 60_000;

/** A native body (what a fetch gives the router) that sends `parts` one write at a time, then ends. */
function nativeBody(parts: string[]): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  void (async () => {
    const writer = writable.getWriter();
    for (const part of parts) await writer.write(encoder.encode(part));
    await writer.close();
  })();
  return readable;
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe("waiting for the first data event", () => {
  it("skips keep-alives, finds an event cut across reads in CRLF framing, and loses no byte", async () => {
    const parts = [": keep-alive\r\n\r\n", 'data: {"choices":', "[]}\r", "\n\r\ndata: [DONE]\r\n\r\n"];
    const first = await awaitFirstEvent(nativeBody(parts), FAR, FAR);
    expect(first.kind).toBe("event");
    if (first.kind !== "event") return;
    expect(await text(first.source.toClient)).toBe(parts.join(""));
  });

  it("reports an error event first as an error, and a stream of keep-alives only as ended", async () => {
    const error = await awaitFirstEvent(
      nativeBody([": keep-alive\n\n", 'data: {"error":{"message":"busy"}}\n\n']),
      FAR,
      FAR,
    );
    expect(error).toEqual({ kind: "error", payload: '{"error":{"message":"busy"}}' });
    const ended = await awaitFirstEvent(nativeBody([": keep-alive\n\n", ": keep-alive\n\n"]), FAR, FAR);
    expect(ended.kind).toBe("ended");
  });

  it("reads a JS-backed body chunk by chunk, and an event the stream ends without a blank line after", async () => {
    const parts = ["event: message_start\n", 'data: {"type":"message_start"}'];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(encoder.encode(part));
        controller.close();
      },
    });
    const first = await awaitFirstEvent(body, FAR, FAR);
    expect(first.kind).toBe("event");
    if (first.kind !== "event") return;
    expect(first.source.side.read.length).toBeGreaterThan(0);
    expect(await text(first.source.toClient)).toBe(parts.join(""));
  });
});
