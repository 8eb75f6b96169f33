import type { Limits } from "./config/limits";
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
  /** The managed key the request authenticated with; absent for a bootstrap key of ROUTER_TENANTS. */
  routerKey?: { id: string; name: string; limits: Limits };
  /** The routing policy in force for this request. */
  policy: Policy;
  /** Time spent waiting on others (upstream headers, queue); excluded from the overhead header. */
  waitedMs: number;
}

export type AppEnv = { Bindings: Env; Variables: RequestVariables };
