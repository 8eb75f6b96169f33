import { createHash } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startSimServer } from "../sim/node";
import { TEST_TENANTS } from "./fixtures/tenants";
import { startFrontendStub } from "./frontend-stub";
import { startWebhookReceiver } from "./webhook-receiver";

declare module "vitest" {
  export interface ProvidedContext {
    simUrl: string;
    routerTenants: string;
    /** The loopback receiver alert webhooks go to (test/webhook-receiver.ts). */
    hookUrl: string;
    /** The loopback JWKS and siteverify stand-in of the frontend-token tests (test/frontend-stub.ts). */
    frontendStubUrl: string;
  }
}

/**
 * One simulator on an ephemeral loopback port serves every workerd test file; each test that needs its
 * own knobs or counters creates an isolated instance through the simulator's control API.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const sim = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
  const tenants = TEST_TENANTS.map(({ id, key, maxPriority }) => ({
    id,
    maxPriority,
    keys: [createHash("sha256").update(key).digest("hex")],
  }));
  project.provide("simUrl", sim.url);
  project.provide("routerTenants", JSON.stringify(tenants));
  const hooks = await startWebhookReceiver();
  project.provide("hookUrl", hooks.url);
  const frontendStub = await startFrontendStub();
  project.provide("frontendStubUrl", frontendStub.url);
  return async () => {
    await frontendStub.close();
    await sim.close();
    await hooks.close();
  };
}
