import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  convertV4MiniflareOptions,
  Log,
  LogLevel,
  Miniflare,
  type V4DurableObject,
  type V4WorkerOptions,
} from "miniflare";
import { startSimServer } from "../sim/node";
import type { SimOptionsPatch } from "../sim/options";
import { routerWorker } from "./build";
import { LOCAL_ROUTER_KEY, LOCAL_UPSTREAM_KEY, tenantsConfig } from "./local-config";

export interface LocalStack {
  routerUrl: string;
  simUrl: string;
  routerKey: string;
  /** A bare pass-through Worker in the same runtime: the floor the router is measured against. */
  bareUrl: string;
  /**
   * A Worker that calls the router through a service binding, for client departures a direct socket
   * cannot show locally: `x-caller-abort-ms: N` makes it abandon its call after N ms.
   */
  callerUrl: string;
  close(): Promise<void>;
}

export interface LocalStackOptions {
  sim?: SimOptionsPatch;
  simPort?: number;
  routerPort?: number;
  /** Extra or overriding router vars, e.g. a policy. */
  vars?: Record<string, string>;
  /** Print the Workers' own log lines (one JSON line per request); off so reports stay readable. */
  workerLogs?: boolean;
  /** An upstream other than the simulator for the router and the bare Worker (e.g. a bench's own mock). */
  upstreamUrl?: string;
  /**
   * The router's Durable Objects in a workerd of their own, reached through Miniflare's dev registry,
   * as on Cloudflare they run outside the Worker; `started` is called once that workerd is up, so a
   * bench can tell its processes from the Workers'.
   */
  platform?: { started?(): void };
}

/** The Worker that hosts the router's Durable Objects when they run apart from it. */
const PLATFORM_WORKER = "router-platform";

// The floor: forwards the request and returns the upstream response untouched, nothing else.
export const BARE_PASSTHROUGH = `
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, {
      method: request.method, headers: request.headers, body: request.body,
    });
  },
};`;

/** The router with the local keys and tenants in front of `upstream`, on a direct socket (`port`, 0 for any). */
export function localRouterWorker(
  upstream: string,
  vars: Record<string, string> = {},
  port = 0,
): V4WorkerOptions {
  return routerWorker({
    bindings: {
      DEEPSEEK_BASE_URL: upstream,
      DEEPSEEK_API_KEY: LOCAL_UPSTREAM_KEY,
      ROUTER_TENANTS: tenantsConfig(),
      ...vars,
    },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  });
}

/** The bare pass-through Worker in front of `upstream`, on a direct socket: every benchmark's floor. */
export function bareWorker(upstream: string): V4WorkerOptions {
  return {
    name: "bare",
    modules: true,
    script: BARE_PASSTHROUGH,
    compatibilityDate: "2026-11-01",
    bindings: { UPSTREAM: upstream },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

// A client that leaves: workerd reports a departure before the response starts only through a binding.
const CALLER = `
export default {
  async fetch(request, env) {
    const abortMs = Number(request.headers.get("x-caller-abort-ms") ?? "0");
    const signal = abortMs > 0 ? AbortSignal.timeout(abortMs) : undefined;
    try {
      return await env.ROUTER.fetch(new Request(request, { signal }));
    } catch (error) {
      return new Response(String(error), { status: 499 });
    }
  },
};`;

/**
 * The simulator on Node plus the router and a bare pass-through Worker under Miniflare with direct
 * sockets, so nothing but workerd sits in front of either Worker (unlike `wrangler dev`, whose
 * development proxy dominates latency figures). Used by the load-test kit and the benchmarks.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const sim = await startSimServer({ port: options.simPort ?? 0, ...options.sim });
  const upstream = options.upstreamUrl ?? sim.url;
  const caller: V4WorkerOptions = {
    name: "caller",
    modules: true,
    script: CALLER,
    compatibilityDate: "2026-11-01",
    serviceBindings: { ROUTER: "router" },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
  const runtime = {
    log: new Log(LogLevel.WARN),
    host: "127.0.0.1",
    port: 0,
    cf: false,
    handleStructuredLogs: options.workerLogs ? undefined : () => {},
  };
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let mf: Miniflare | undefined;
  const close = async () => {
    await mf?.dispose();
    await platform?.close();
    await sim.close();
  };
  try {
    const router = localRouterWorker(upstream, options.vars, options.routerPort);
    const bare = bareWorker(upstream);
    if (options.platform) {
      platform = await startPlatform(router, runtime);
      options.platform.started?.();
    }
    mf = new Miniflare(
      convertV4MiniflareOptions({
        ...runtime,
        workers: [platform ? withRemoteObjects(router) : router, bare, caller],
        ...(platform ? { unsafeDevRegistryPath: platform.registry } : {}),
      }),
    );
    await mf.ready;
    return {
      routerUrl: stripSlash(await mf.unsafeGetDirectURL("router")),
      bareUrl: stripSlash(await mf.unsafeGetDirectURL("bare")),
      callerUrl: stripSlash(await mf.unsafeGetDirectURL("caller")),
      simUrl: sim.url,
      routerKey: LOCAL_ROUTER_KEY,
      close,
    };
  } catch (error) {
    // Nothing started here outlives a failed start.
    await close().catch(() => {});
    throw error;
  }
}

/**
 * A copy of the router, on no socket, that hosts its Durable Objects (and consumes its queues) for
 * copies that run apart from them: give those copies `withRemoteObjects` and its `registry`.
 */
export async function startPlatform(
  router: V4WorkerOptions,
  runtime: Omit<Parameters<typeof convertV4MiniflareOptions>[0], "workers">,
): Promise<{ registry: string; close(): Promise<void> }> {
  const registry = mkdtempSync(join(tmpdir(), "router-platform-"));
  const { unsafeDirectSockets: _noSocket, ...hosted } = router;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...runtime,
      unsafeDevRegistryPath: registry,
      workers: [{ ...hosted, name: PLATFORM_WORKER }],
    }),
  );
  const close = async () => {
    await mf.dispose();
    rmSync(registry, { recursive: true, force: true });
  };
  await mf.ready.catch(async (error: unknown) => {
    await close().catch(() => {});
    throw error;
  });
  return { registry, close };
}

/**
 * `worker` with its Durable Objects hosted by the platform's Worker (see `PLATFORM_WORKER`), and no
 * queue consumers of its own: the platform's copy consumes.
 */
export function withRemoteObjects(worker: V4WorkerOptions): V4WorkerOptions {
  const objects = Object.entries((worker.durableObjects ?? {}) as Record<string, V4DurableObject>);
  return {
    ...worker,
    durableObjects: Object.fromEntries(
      objects.map(([binding, object]) => [binding, { ...object, scriptName: PLATFORM_WORKER }]),
    ),
    queueConsumers: undefined,
  };
}

/**
 * A stack whose router policy names the simulator's own URL, which is only known once it listens: a
 * first start finds a free port, the second uses it.
 */
export async function startLocalStackWithPolicy(
  policyFor: (simUrl: string) => string,
  options: LocalStackOptions = {},
): Promise<LocalStack> {
  const probe = await startLocalStack();
  const simPort = Number(new URL(probe.simUrl).port);
  await probe.close();
  return startLocalStack({
    ...options,
    simPort,
    vars: { ...options.vars, ROUTER_POLICY: policyFor(`http://127.0.0.1:${simPort}`) },
  });
}

function stripSlash(url: URL): string {
  return url.toString().replace(/\/$/, "");
}
