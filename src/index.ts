import { createApp } from "./app";
import { type AppFetch, BATCH_QUEUE, runBatchLines } from "./batch/consumer";
import type { LineMessage } from "./batch/types";
import { deliverAlerts } from "./observe/alert-delivery";
import type { Alert } from "./observe/alerts";
import type { OtelVars } from "./observe/otel-config";
import { exportTraces, OTEL_QUEUE } from "./observe/otel-export";
import type { TraceBatch } from "./observe/recorder";
import { AnswerOwner } from "./owner/answer-owner";

export { PoolGate } from "./admission/pool-gate";
export { TenantBatches } from "./batch/tenant-batches";
export { CacheStats } from "./cache/stats-object";
export { TenantLedger } from "./ledger/tenant-ledger";
export { MetricsAggregator } from "./observe/aggregator";
export { TenantAnswers } from "./owner/tenant-answers";
export { KeyRegistry } from "./tenancy/key-registry";
export { SpendAuthority } from "./tenancy/spend-authority";

const app = createApp();

/** The owner of an answer that outlives its client (issue 24): it runs the call through this same app. */
export class StreamOwner extends AnswerOwner {
  protected readonly app = app.fetch as AppFetch;
}

export default {
  fetch: app.fetch,
  // Batch lines (issue 15), request traces (issue 25) or alerts: the queues this Worker consumes.
  queue: (batch, env, ctx) => {
    if (batch.queue === BATCH_QUEUE)
      return runBatchLines(batch as MessageBatch<LineMessage>, env, ctx, app.fetch as AppFetch);
    if (batch.queue === OTEL_QUEUE)
      return exportTraces(batch as MessageBatch<TraceBatch>, env as Env & OtelVars);
    return deliverAlerts(batch as MessageBatch<Alert>, env);
  },
} satisfies ExportedHandler<Env, Alert | LineMessage | TraceBatch>;
