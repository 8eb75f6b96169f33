import { createApp } from "./app";
import { type AppFetch, BATCH_QUEUE, runBatchLines } from "./batch/consumer";
import type { LineMessage } from "./batch/types";
import { deliverAlerts } from "./observe/alert-delivery";
import type { Alert } from "./observe/alerts";
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
  // Batch lines (issue 15) or alerts: the two queues this Worker consumes.
  queue: (batch, env, ctx) =>
    batch.queue === BATCH_QUEUE
      ? runBatchLines(batch as MessageBatch<LineMessage>, env, ctx, app.fetch as AppFetch)
      : deliverAlerts(batch as MessageBatch<Alert>, env),
} satisfies ExportedHandler<Env, Alert | LineMessage>;
