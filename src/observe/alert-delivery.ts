import { loadTenants } from "../config/tenants";
import type { Alert } from "./alerts";
import type { ObserveVars } from "./settings";

/** Backoff between deliveries of one alert: base, 2×, 4×, … capped at 5 minutes (base 10 s by default). */
export function retryDelaySeconds(attempts: number, baseSeconds = 10): number {
  return Math.min(300, baseSeconds * 2 ** Math.max(0, attempts - 1));
}

/** Where a message goes: the operator's webhook, or its tenant's own (`alertWebhook` in ROUTER_TENANTS). */
function destination(alert: Alert, env: ObserveVars & { ROUTER_TENANTS?: string }): string | undefined {
  if (alert.deliverTo !== "tenant") return env.ALERT_WEBHOOK_URL;
  const tenants = loadTenants(env.ROUTER_TENANTS);
  return tenants.ok ? tenants.value.tenants.find((t) => t.id === alert.tenant)?.alertWebhook : undefined;
}

/**
 * The ALERTS queue's consumer: POSTs each alert to `ALERT_WEBHOOK_URL` (or, for a tenant's copy of a
 * budget alert, to the tenant's own `alertWebhook`) as JSON. A 2xx acknowledges
 * it; anything else (or no answer) retries that message alone with backoff, up to the queue's
 * `max_retries`, then the dead-letter queue keeps it. `x-router-alert-id` lets the receiver drop the
 * duplicates at-least-once delivery can produce. Without a webhook URL, alerts are acknowledged:
 * they are already in the log and on the operator dashboard.
 */
export async function deliverAlerts(
  batch: MessageBatch<Alert>,
  env: ObserveVars & { ROUTER_TENANTS?: string },
  send: typeof fetch = fetch,
): Promise<void> {
  for (const message of batch.messages) {
    const alert = message.body;
    const url = destination(alert, env);
    if (!url) {
      message.ack();
      continue;
    }
    let status = 0;
    try {
      const response = await send(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-router-alert-id": alert.id },
        body: JSON.stringify({ ...alert, deliverTo: undefined, at: new Date(alert.at).toISOString() }),
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
