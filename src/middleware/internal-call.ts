import type { EndUser } from "../env";

/**
 * Requests the router makes to itself (issue 15: batch lines), marked by object identity. A request
 * from the network is a new object the runtime built, so it can never be in this map: the mark cannot
 * be forged with a header, and no router key has to be held to run a tenant's work.
 */
interface InternalCall {
  /** The tenant the request runs as. */
  tenantId: string;
  /** The managed key it runs as, if one asked for the work: its limits and budgets apply too. */
  keyId: string | null;
  /** The verified end user of a frontend token that asked for the work: their limits apply too. */
  endUser?: EndUser;
  /** Router-minted id of the work item; the ledger books one row under it however often it runs. */
  ledgerKey: string;
}

const calls = new WeakMap<Request, InternalCall>();

/** A request that `authenticate` will attribute to `call.tenantId` without a router key. */
export function internalRequest(url: string, init: RequestInit, call: InternalCall): Request {
  const request = new Request(url, init);
  calls.set(request, call);
  return request;
}

export function internalCallOf(request: Request): InternalCall | undefined {
  return calls.get(request);
}
