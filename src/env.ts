import type { Policy } from "./config/policy";
import type { Settings } from "./config/settings";
import type { Tenant } from "./config/tenants";

/** Per-request values set by middleware; handlers read them with `c.get`. */
export interface RequestVariables {
  requestId: string;
  /** `performance.now()` when the router received the request. */
  receivedAt: number;
  settings: Settings;
  tenant: Tenant;
  /** The routing policy in force for this request. */
  policy: Policy;
  /** Time spent waiting on others (upstream headers, queue); excluded from the overhead header. */
  waitedMs: number;
  /** Set for the router's own requests (batch lines): the ledger row's id, so a rerun books nothing twice. */
  ledgerKey?: string;
}

export type AppEnv = { Bindings: Env; Variables: RequestVariables };
