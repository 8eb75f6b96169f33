import { createApp } from "./app";

export { TenantLedger } from "./ledger/tenant-ledger";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
