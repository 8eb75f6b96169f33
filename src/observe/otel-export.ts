import type { RequestRecord } from "../trace";
import { retryDelaySeconds } from "./alert-delivery";
import { type OtelDestination, type OtelVars, otelDestination } from "./otel-config";
import { otlpJson } from "./otlp";
import type { TraceBatch } from "./recorder";

/** The queue request records wait in for export (wrangler.toml). */
export const OTEL_QUEUE = "deepseek-router-otel-traces";

/**
 * The OTEL_TRACES queue's consumer: the batch's records (a message holds one flush's records of one
 * tenant) grouped by collector (a tenant's own, or the
 * global one), one OTLP/HTTP JSON POST per collector. A 2xx acknowledges the group; anything else (or
 * no answer) retries the group with backoff up to the queue's `max_retries`, then the dead-letter
 * queue keeps it. Span ids are derived from the record, so a retry re-sends the same spans.
 */
export async function exportTraces(
  batch: MessageBatch<TraceBatch | string>,
  env: OtelVars,
  send: typeof fetch = fetch,
): Promise<void> {
  type Group = { destination: OtelDestination; messages: Message<unknown>[]; records: RequestRecord[] };
  const groups = new Map<string, Group>();
  for (const message of batch.messages) {
    // The recorder sends a batch's JSON text; a message queued by an older version is the object.
    const body = typeof message.body === "string" ? (JSON.parse(message.body) as TraceBatch) : message.body;
    const destination = otelDestination(env, body.otel);
    if (!destination) {
      message.ack(); // The export was turned off since the record was queued.
      continue;
    }
    const key = `${destination.url} ${JSON.stringify(destination.headers)}`;
    const group = groups.get(key) ?? { destination, messages: [], records: [] };
    group.messages.push(message);
    for (const record of body.records) group.records.push(record);
    groups.set(key, group);
  }
  await Promise.all(
    [...groups.values()].map(async ({ destination, messages, records }) => {
      const body = otlpJson(records, env.OTEL_SERVICE_NAME);
      let status = 0;
      try {
        const response = await send(destination.url, {
          method: "POST",
          headers: { ...destination.headers, "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        status = response.status;
        await response.body?.cancel();
      } catch {
        // No answer: retried like a failure status.
      }
      if (status >= 200 && status < 300) {
        for (const message of messages) message.ack();
        return;
      }
      // The collector's host only: its headers (and maybe its URL) carry a key.
      console.error(
        JSON.stringify({
          event: "otel_export_failed",
          host: new URL(destination.url).host,
          status,
          records: records.length,
        }),
      );
      for (const message of messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts, 1) });
    }),
  );
}
