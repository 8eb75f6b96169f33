import type { FrontendConfig } from "../config/frontend";

/** A tenant as far as its issuers go: configured and stored tenants alike. */
interface IssuingTenant {
  id: string;
  frontend?: Pick<FrontendConfig, "issuers">;
  disabled?: boolean;
}

/** An issuer of a tenant being written whose (`issuer`, `audience`) pair is already another's. */
export interface IssuerClash {
  /** Its index in the tenant's `frontend.issuers`. */
  index: number;
  issuer: string;
  audience: string;
  /** The tenant that holds the pair; the tenant itself when it lists the pair twice. */
  owner: string;
}

/**
 * The first issuer of `tenant` whose (`issuer`, `audience`) pair one of `others` already has, or that
 * `tenant` lists twice. A token names its tenant only through that pair, so an enabled tenant's pair
 * must be no other tenant's, configured or stored, enabled or disabled (a disabled one may be enabled
 * again). A disabled tenant is not checked, so disabling one never fails; enabling it again is. `others`
 * may include `tenant`'s own earlier version, which is skipped by id.
 */
export function issuerClash(tenant: IssuingTenant, others: Iterable<IssuingTenant>): IssuerClash | undefined {
  if (tenant.disabled) return undefined;
  const owners = new Map<string, string>();
  for (const other of others) {
    if (other.id === tenant.id) continue;
    for (const issuer of other.frontend?.issuers ?? []) owners.set(pairOf(issuer), other.id);
  }
  const own = new Set<string>();
  const issuers = tenant.frontend?.issuers ?? [];
  for (const [index, { issuer, audience }] of issuers.entries()) {
    const pair = pairOf({ issuer, audience });
    const owner = owners.get(pair) ?? (own.has(pair) ? tenant.id : undefined);
    if (owner !== undefined) return { index, issuer, audience, owner };
    own.add(pair);
  }
  return undefined;
}

function pairOf(issuer: { issuer: string; audience: string }): string {
  return JSON.stringify([issuer.issuer, issuer.audience]);
}
