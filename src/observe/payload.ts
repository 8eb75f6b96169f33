import type { Context } from "hono";
import type { AnswerObserver } from "../answer";
import type { AppEnv } from "../env";
import type { OtelVars } from "./otel-config";
import { timelineOf } from "./recorder";

/** Secrets redacted from every captured payload, whatever the tenant configures. */
const ALWAYS_REDACTED = [
  /sk-[A-Za-z0-9_-]{16,}/g,
  /\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];
const REDACTED = "[REDACTED]";

/** A captured payload as stored in R2 under `captures/<tenant>/<record id>.json`. */
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
 * request body and the answer's bytes (each redacted, then capped at the tenant's `maxBytes`) and
 * writes them to R2 when the answer ends, off the response path. Undefined when the tenant does not
 * capture. The write is registered with `waitUntil` now, while the request is live.
 */
export function payloadCapture(c: Context<AppEnv>, rawBody: string): AnswerObserver | undefined {
  const tenant = c.get("tenant");
  const capture = tenant.capture;
  if (!capture?.enabled || (c.env as OtelVars).REQUEST_RECORDS === "off") return undefined;
  const timeline = timelineOf(c);
  const key = `captures/${tenant.id}/${timeline.id}.json`;
  timeline.payloadKey = key;
  let written: (write: Promise<unknown>) => void = () => {};
  c.executionCtx.waitUntil(new Promise<Promise<unknown>>((resolve) => (written = resolve)).then((w) => w));
  // A little past the cap, so a secret straddling it is still recognised and redacted whole.
  const keep = capture.maxBytes + 512;
  const parts: Uint8Array[] = [];
  let kept = 0;
  let more = false;
  const patterns = [...ALWAYS_REDACTED, ...capture.redact.map((p) => new RegExp(p, "g"))];
  return {
    chunk(bytes) {
      if (kept >= keep) {
        more = true;
        return;
      }
      const part = bytes.length > keep - kept ? bytes.subarray(0, keep - kept) : bytes;
      more ||= part.length < bytes.length;
      parts.push(part.slice());
      kept += part.length;
    },
    end() {
      const prompt = capped(redact(rawBody, patterns), capture.maxBytes);
      const answer = capped(
        redact(new TextDecoder().decode(concat(parts, kept)), patterns),
        capture.maxBytes,
      );
      const payload: CapturedPayload = {
        recordId: timeline.id,
        tenant: tenant.id,
        at: timeline.at,
        prompt: prompt.text,
        answer: answer.text,
        truncated: { prompt: prompt.cut, answer: answer.cut || more },
      };
      written(
        c.env.FILES.put(key, JSON.stringify(payload), {
          httpMetadata: { contentType: "application/json" },
          customMetadata: { tenant: tenant.id },
        }).catch((error: unknown) =>
          console.error(JSON.stringify({ event: "payload_capture_failed", key, error: String(error) })),
        ),
      );
    },
  };
}

/** `text` with every match of `patterns` replaced. */
export function redact(text: string, patterns: readonly RegExp[]): string {
  return patterns.reduce((out, pattern) => out.replace(pattern, REDACTED), text);
}

/** At most `maxBytes` of UTF-8; a character cut in two becomes U+FFFD. */
function capped(text: string, maxBytes: number): { text: string; cut: boolean } {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return { text, cut: false };
  return { text: new TextDecoder().decode(bytes.subarray(0, maxBytes)), cut: true };
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
