import { createApp } from "./app";
import { type AppFetch, runBatchLines } from "./batch/consumer";
import type { LineMessage } from "./batch/types";
import { deliverAlerts } from "./observe/alert-delivery";
import type { Alert } from "./observe/alerts";

export { PoolGate } from "./admission/pool-gate";
export { TenantBatches } from "./batch/tenant-batches";
export { CacheStats } from "./cache/stats-object";
export { TenantLedger } from "./ledger/tenant-ledger";
export { MetricsAggregator } from "./observe/aggregator";

const app = createApp();

/** Queue name of the batch lines (issue 15); every other queue delivered here is the alerts queue. */
export const BATCH_QUEUE = "deepseek-router-batch-lines";

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) =>
    batch.queue === BATCH_QUEUE
      ? runBatchLines(batch as MessageBatch<LineMessage>, env, ctx, app.fetch as AppFetch)
      : deliverAlerts(batch as MessageBatch<Alert>, env),
} satisfies ExportedHandler<Env, Alert | LineMessage>;
