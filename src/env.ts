import type { Limits } from "./config/limits";
import type { Policy } from "./config/policy";
import type { Settings } from "./config/settings";
import type { Tenant } from "./config/tenants";
import type { WireEndpoint } from "./surfaces";
import type { Timeline } from "./trace";

/** Per-request values set by middleware; handlers read them with `c.get`. */
export interface RequestVariables {
  requestId: string;
  /** `performance.now()` when the router received the request. */
  receivedAt: number;
  settings: Settings;
  tenant: Tenant;
  /** The managed key the request authenticated with; absent for a bootstrap key of ROUTER_TENANTS. */
  routerKey?: { id: string; name: string; limits: Limits; capabilities?: string[] };
  /**
   * Set when the request authenticated with a frontend token (issue 23): the verified end user, by a
   * keyed hash of (tenant, sub) (the raw sub never leaves authentication), and the token's own limits.
   */
  endUser?: EndUser;
  /** The routing policy in force for this request. */
  policy: Policy;
  /** Time spent waiting on others (upstream headers, queue); excluded from the overhead header. */
  waitedMs: number;
  /** The front door's wire format when it is not DeepSeek's own: errors are rendered in its envelope. */
  surface?: WireEndpoint;
  /** Set for the router's own requests (batch lines): the ledger row's id, so a rerun books nothing twice. */
  ledgerKey?: string;
  /** What happens to the request, for its record and trace (issue 25); set by the trace middleware. */
  timeline?: Timeline;
}

export interface EndUser {
  /** `u_…`: stable, not reversible; what limits, logs and the upstream see. */
  id: string;
  via: "router" | "issuer";
  /** The tenant's per-user limits, narrowed by the token's scope (models, origins, max_tokens too). */
  limits: Limits;
}

export type AppEnv = { Bindings: Env; Variables: RequestVariables };
