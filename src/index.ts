import { createApp } from "./app";

export { PoolGate } from "./admission/pool-gate";
export { CacheStats } from "./cache/stats-object";
export { TenantLedger } from "./ledger/tenant-ledger";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
