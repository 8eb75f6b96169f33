import type { Context } from "hono";
import type { AnswerObserver } from "../answer";
import { concatBytes } from "../bytes";
import type { AppEnv } from "../env";
import { FlushWindows } from "../ledger/batcher";
import { replayJson, ssePayloads } from "../surfaces/replay";
import { parse } from "../surfaces/scan";
import type { WireEndpoint } from "../surfaces/types";
import { recordsKept } from "./otel-config";
import { holdWithRecord, timelineOf } from "./recorder";

/**
 * Secrets redacted from every captured payload, whatever the tenant configures, in one pass: API keys,
 * bearer and basic credentials (the scheme in any case), JWTs (a frontend token is a bearer credential
 * on its own; header and payload are base64url JSON, so both start `eyJ`), AWS access key ids, PEM
 * private keys. Each scan is linear, whatever a hostile prompt repeats: a JWT starts only where a run of
 * base64url characters starts, and a key's body stops at the next `-----` (a PEM body never holds one).
 */
const ALWAYS_REDACTED =
  /sk-[A-Za-z0-9_-]{16,}|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|\b(?:[Bb][Ee][Aa][Rr][Ee][Rr]|[Bb][Aa][Ss][Ii][Cc])\s+[A-Za-z0-9._~+/=-]{8,}|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[^-]|-(?!----))*-----END [A-Z ]*PRIVATE KEY-----/g;
/**
 * A credential written as an assignment (`password=…`, `DB_PASSWORD=…`, `"api_key": "…"`, also inside a
 * JSON string's escaped quotes): the name and its value go, a quoted value whole. A name is a keyword
 * with up to three `_`/`-` parts either side (`aws_secret_access_key`, `GITHUB_TOKEN`; `token` only
 * after such a part, so prose's "token:" and `max_tokens` stay). Every part is bounded and a name only
 * starts after a non-alphanumeric character (or a JSON string's `\n`), so the scan stays linear.
 */
const CREDENTIAL_ASSIGNMENT =
  /(?<=^|[^A-Za-z0-9]|\\[nrt])(?:[A-Za-z0-9]{1,24}[_-]){0,3}(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|(?:access|auth|refresh|session|bearer)[_-]?token|(?<=[_-])token)(?:[_-][A-Za-z0-9]{1,24}){0,3}(?![A-Za-z0-9])(?:\\?["'])?\s{0,4}[:=]\s{0,4}(?:\\?"[^"\\\n]{1,256}\\?"|\\?'[^'\\\n]{1,256}\\?'|[^\s"'\\]{1,256})/gi;
const REDACTED = "[REDACTED]";
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Each tenant's patterns compiled once per configuration, not once per request. */
const compiled = new WeakMap<readonly string[], RegExp[]>();

function redactionsOf(tenantPatterns: readonly string[]): RegExp[] {
  let patterns = compiled.get(tenantPatterns);
  if (!patterns) {
    patterns = [
      ALWAYS_REDACTED,
      CREDENTIAL_ASSIGNMENT,
      ...tenantPatterns.map((pattern) => new RegExp(pattern, "g")),
    ];
    compiled.set(tenantPatterns, patterns);
  }
  return patterns;
}

/** A captured payload; R2 keeps a flush's payloads as an array under `captures/<tenant>/<first record id>.json`. */
export interface CapturedPayload {
  recordId: string;
  tenant: string;
  at: number;
  prompt: string;
  answer: string;
  truncated: { prompt: boolean; answer: boolean };
}

/**
 * Payload capture (issue 25), for a tenant that opted in: an observer of the answer that keeps the
 * request body and the answer's bytes (each redacted, then capped at the tenant's `maxBytes`). When the
 * answer ends it joins this isolate's batch for the tenant (one R2 object per tenant per 250 ms flush,
 * not one per request) and names its place on the timeline, for the record. It must run before the
 * accounting's observer, which builds the record. Undefined when the tenant does not capture.
 */
export function payloadCapture(
  c: Context<AppEnv>,
  rawBody: string | Uint8Array,
  answer: { endpoint: WireEndpoint; stream: boolean },
): AnswerObserver | undefined {
  const tenant = c.get("tenant");
  const capture = tenant.capture;
  if (!capture?.enabled || !recordsKept(c.env)) return undefined;
  const timeline = timelineOf(c);
  const keep = capture.maxBytes + REDACT_MARGIN_BYTES;
  // A stream's framing outweighs its text many times over: enough is kept to fill the cap once assembled.
  const keepAnswer = answer.stream ? Math.min(keep * STREAM_FRAMING, MAX_STREAM_BYTES) : keep;
  const parts: Uint8Array[] = [];
  let kept = 0;
  let more = false;
  const patterns = redactionsOf(capture.redact);
  return {
    chunk(bytes) {
      if (kept >= keepAnswer) {
        more = true;
        return;
      }
      const part = bytes.length > keepAnswer - kept ? bytes.subarray(0, keepAnswer - kept) : bytes;
      more ||= part.length < bytes.length;
      parts.push(part.slice());
      kept += part.length;
    },
    end() {
      // Only what can be kept is redacted: a prompt of megabytes costs no more than one at the cap.
      const prompt = capped(redact(headOf(rawBody, keep), patterns), capture.maxBytes);
      const text = answerText(concatBytes(parts), answer.stream ? answer.endpoint : undefined);
      const said = capped(redact(text, patterns), capture.maxBytes);
      const added = payloadBatcher(c.env.FILES).add(tenant.id, {
        recordId: timeline.id,
        tenant: tenant.id,
        at: timeline.at,
        prompt: prompt.text,
        answer: said.text,
        truncated: { prompt: prompt.cut || rawBody.length > keep, answer: said.cut || more },
      });
      timeline.payload = { key: added.key, index: added.index };
      // The accounting's observer comes next and records the request: its flush, which the request's
      // `waitUntil` holds (registered while the request was live), waits for this write too.
      if (!holdWithRecord(timeline, added.flush)) c.executionCtx.waitUntil(added.flush);
    },
  };
}

/** How many times its text a stream's bytes may be (an event per token), and the most kept of one. */
const STREAM_FRAMING = 16;
const MAX_STREAM_BYTES = 4 * 1024 * 1024;

/**
 * A captured answer as text to redact. A stream's events are assembled into the answer's JSON first,
 * as a cache hit's are for a non-streaming caller: a key the model wrote comes one token per event,
 * and no pattern finds it until the pieces are joined. A stream cut at the cap assembles what it has.
 */
function answerText(bytes: Uint8Array, streamOf: WireEndpoint | undefined): string {
  const text = decoder.decode(bytes);
  if (!streamOf) return text;
  const events = ssePayloads(text);
  const assembled = replayJson({ endpoint: streamOf, kind: "stream", events });
  // A Responses stream is assembled from its final event, which a stream cut at the cap lacks: its
  // deltas' text, joined, is then what was said.
  return assembled === "{}" ? deltasJoined(events) : assembled;
}

function deltasJoined(events: readonly string[]): string {
  let text = "";
  for (const event of events) {
    const delta = parse(event)?.delta;
    if (typeof delta === "string") text += delta;
  }
  return text;
}

/**
 * Past the cap, this much more of a prompt or answer is redacted before it is capped, so a secret
 * straddling the cap (a PEM private key runs to about 3 KB) is recognised and redacted whole.
 */
const REDACT_MARGIN_BYTES = 8_192;

/** At least the first `bytes` bytes of `raw` as text (a string's first `bytes` characters are as many bytes or more). */
function headOf(raw: string | Uint8Array, bytes: number): string {
  if (typeof raw === "string") return raw.length > bytes ? raw.slice(0, bytes) : raw;
  return decoder.decode(raw.length > bytes ? raw.subarray(0, bytes) : raw);
}

/**
 * A batch waits up to 250 ms, like the record that names it (so the record is not listed long before
 * its payload can be read); it is written at once when it holds 100 payloads or about 1 MB, since
 * reading one payload reads its whole object.
 */
const MAX_BATCH = 100;
const MAX_BATCH_CHARS = 1_000_000;
const FLUSH_AFTER_MS = 250;

/** One tenant's payloads in a flush window: one R2 object, named after its first record. */
interface PayloadBatch {
  key: string;
  payloads: CapturedPayload[];
  chars: number;
}

/**
 * Captured payloads batched per isolate and tenant: each flush window writes one R2 object per tenant,
 * an array of payloads. A record names its object and its index in it, and its write waits for the
 * payload's window (`FlushWindows` says why each request holds exactly that window's write).
 */
class PayloadBatcher {
  private readonly windows = new FlushWindows<PayloadBatch>(FLUSH_AFTER_MS, (batches) => this.put(batches));

  constructor(private readonly bucket: R2Bucket) {}

  add(tenant: string, payload: CapturedPayload): { key: string; index: number; flush: Promise<void> } {
    const window = this.windows.current();
    let batch = window.batches.get(tenant);
    if (!batch) {
      batch = { key: `captures/${tenant}/${payload.recordId}.json`, payloads: [], chars: 0 };
      window.batches.set(tenant, batch);
    }
    const index = batch.payloads.push(payload) - 1;
    batch.chars += payload.prompt.length + payload.answer.length;
    if (batch.payloads.length >= MAX_BATCH || batch.chars >= MAX_BATCH_CHARS) this.windows.write(window);
    return { key: batch.key, index, flush: window.written };
  }

  private async put(batches: ReadonlyMap<string, PayloadBatch>): Promise<void> {
    await Promise.all(
      [...batches.values()].map(({ key, payloads }) =>
        this.bucket
          .put(key, JSON.stringify(payloads), { httpMetadata: { contentType: "application/json" } })
          .catch((error: unknown) =>
            console.error(JSON.stringify({ event: "payload_capture_failed", key, error: String(error) })),
          ),
      ),
    );
  }
}

const batchers = new WeakMap<R2Bucket, PayloadBatcher>();

function payloadBatcher(bucket: R2Bucket): PayloadBatcher {
  let batcher = batchers.get(bucket);
  if (!batcher) {
    batcher = new PayloadBatcher(bucket);
    batchers.set(bucket, batcher);
  }
  return batcher;
}

/** One payload out of its batch object; null when it is not there (expired, or never written). */
export async function readPayload(
  bucket: R2Bucket,
  recordId: string,
  at: { key: string; index: number },
): Promise<CapturedPayload | null> {
  const object = await bucket.get(at.key);
  if (!object) return null;
  const payload = (await object.json<CapturedPayload[]>())[at.index];
  return payload?.recordId === recordId ? payload : null;
}

/** `text` with every match of `patterns` replaced. */
export function redact(text: string, patterns: readonly RegExp[]): string {
  return patterns.reduce((out, pattern) => out.replace(pattern, REDACTED), text);
}

/** At most `maxBytes` of UTF-8, cut before a character that would not fit whole. */
function capped(text: string, maxBytes: number): { text: string; cut: boolean } {
  // A UTF-16 unit is at most 3 UTF-8 bytes: a text that short fits without being encoded.
  if (text.length * 3 <= maxBytes) return { text, cut: false };
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return { text, cut: false };
  let cut = maxBytes;
  while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
  return { text: decoder.decode(bytes.subarray(0, cut)), cut: true };
}
