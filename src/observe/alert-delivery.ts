import type { Alert } from "./alerts";
import type { ObserveVars } from "./settings";

/** Backoff between deliveries of one alert: base, 2×, 4×, … capped at 5 minutes (base 10 s by default). */
export function retryDelaySeconds(attempts: number, baseSeconds = 10): number {
  return Math.min(300, baseSeconds * 2 ** Math.max(0, attempts - 1));
}

/**
 * The ALERTS queue's consumer: POSTs each alert to `ALERT_WEBHOOK_URL` (or, for a tenant's copy of a
 * budget alert, to the tenant's own webhook it names) as JSON. A 2xx acknowledges
 * it; anything else (or no answer) retries that message alone with backoff, up to the queue's
 * `max_retries`, then the dead-letter queue keeps it. `x-router-alert-id` lets the receiver drop the
 * duplicates at-least-once delivery can produce. Without a webhook URL, alerts are acknowledged:
 * they are already in the log and on the operator dashboard.
 */
export async function deliverAlerts(
  batch: MessageBatch<Alert>,
  env: ObserveVars,
  send: typeof fetch = fetch,
): Promise<void> {
  for (const message of batch.messages) {
    const alert = message.body;
    // A tenant's copy of a budget alert names the tenant's webhook; every other goes to the operator's.
    const { webhook, ...alertBody } = alert;
    const url = webhook ?? env.ALERT_WEBHOOK_URL;
    if (!url) {
      message.ack();
      continue;
    }
    let status = 0;
    try {
      const response = await send(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-router-alert-id": alert.id },
        body: JSON.stringify({ ...alertBody, at: new Date(alert.at).toISOString() }),
        signal: AbortSignal.timeout(10_000),
      });
      status = response.status;
      await response.body?.cancel();
    } catch {
      // No answer: retried like a failure status.
    }
    if (status >= 200 && status < 300) {
      message.ack();
      continue;
    }
    console.error(
      JSON.stringify({ event: "alert_delivery_failed", id: alert.id, status, attempts: message.attempts }),
    );
    const base = Number(env.ALERT_RETRY_BASE_S) > 0 ? Number(env.ALERT_RETRY_BASE_S) : undefined;
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts, base) });
  }
}
