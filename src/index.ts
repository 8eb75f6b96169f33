import { createApp } from "./app";
import { deliverAlerts } from "./observe/alert-delivery";
import type { Alert } from "./observe/alerts";

export { PoolGate } from "./admission/pool-gate";
export { CacheStats } from "./cache/stats-object";
export { TenantLedger } from "./ledger/tenant-ledger";
export { MetricsAggregator } from "./observe/aggregator";
export { KeyRegistry } from "./tenancy/key-registry";
export { SpendAuthority } from "./tenancy/spend-authority";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => deliverAlerts(batch, env),
} satisfies ExportedHandler<Env, Alert>;
