import { type Context, Hono } from "hono";
import { createSimulator, type Simulator } from "./app";
import { randomHex } from "./hash";
import { mergeSimOptions, parseSimOptions, type SimOptions, type SimOptionsPatch } from "./options";

/**
 * Many isolated simulators behind one server, so parallel test files do not share counters or slots.
 * The default instance answers at the root; `POST /_sim/instances` creates one served under `/i/<id>`.
 * Instance control routes are forwarded to the instance's own `/_sim/*` control API.
 */

export interface SimHost {
  app: Hono;
  /** The instance served at the root. */
  root: Simulator;
  instances: Map<string, Simulator>;
}

function problem(c: Context, status: 400 | 404, message: string): Response {
  return c.json({ error: { message } }, status);
}

/** `req` re-addressed to `path` (query kept), for an instance's app. */
function forward(sim: Simulator, req: Request, path: string): Response | Promise<Response> {
  const url = new URL(req.url);
  url.pathname = path;
  return sim.app.fetch(new Request(url, req));
}

export function buildSimHost(defaults?: SimOptionsPatch): SimHost {
  const base: SimOptions = parseSimOptions(defaults ?? {});
  const root = createSimulator(base);
  const instances = new Map<string, Simulator>();
  const app = new Hono();

  app.post("/_sim/instances", async (c) => {
    try {
      const text = await c.req.text();
      const sim = createSimulator(mergeSimOptions(base, text.trim() === "" ? {} : JSON.parse(text)));
      const id = randomHex(16);
      instances.set(id, sim);
      return c.json({ id, baseUrl: `${new URL(c.req.url).origin}/i/${id}` }, 201);
    } catch (e) {
      return problem(c, 400, e instanceof Error ? e.message : String(e));
    }
  });
  app.get("/_sim/instances", (c) => c.json({ ids: [...instances.keys()] }));

  const to = (path: string) => (c: Context) => {
    const sim = instances.get(c.req.param("id") ?? "");
    return sim ? forward(sim, c.req.raw, path) : problem(c, 404, "No such simulator instance");
  };
  app.on(["GET", "PATCH"], "/_sim/instances/:id", to("/_sim/config"));
  app.get("/_sim/instances/:id/stats", to("/_sim/stats"));
  app.post("/_sim/instances/:id/reset", to("/_sim/reset"));
  app.delete("/_sim/instances/:id", (c) =>
    instances.delete(c.req.param("id")) ? c.body(null, 204) : problem(c, 404, "No such simulator instance"),
  );

  app.all("/i/:id/*", (c) => {
    const id = c.req.param("id");
    const sim = instances.get(id);
    if (!sim) return problem(c, 404, "No such simulator instance");
    return forward(sim, c.req.raw, new URL(c.req.url).pathname.slice(`/i/${id}`.length) || "/");
  });
  app.all("*", (c) => root.app.fetch(c.req.raw));
  return { app, root, instances };
}

/** A Hono app hosting the default simulator at the root and isolated instances under `/i/<id>`. */
export function createSimHost(defaults?: SimOptionsPatch): Hono {
  return buildSimHost(defaults).app;
}
