import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback stand-in for what frontend tokens talk to (issue 23): an identity provider's JWKS and
 * Cloudflare Turnstile's siteverify. Test files share it, so each uses its own names.
 * - `PUT /jwks/:name` stores a JWKS; `GET /jwks/:name` serves it and counts the fetch;
 *   `GET /_control/fetches/:name` says how many fetches there were.
 * - `POST /siteverify` answers like Turnstile: a `response` of `pass:<hostname>` succeeds once for that
 *   hostname (a second use is `timeout-or-duplicate`); anything else fails with `invalid-input-response`.
 */
export async function startFrontendStub(): Promise<{ url: string; close(): Promise<void> }> {
  const sets = new Map<string, string>();
  const fetches = new Map<string, number>();
  const spent = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const url = new URL(req.url ?? "/", "http://stub");
    const [, first, name = ""] = url.pathname.split("/");
    if (first === "jwks" && req.method === "PUT") {
      sets.set(name, body);
      res.writeHead(204).end();
      return;
    }
    if (first === "jwks" && req.method === "GET" && sets.has(name)) {
      fetches.set(name, (fetches.get(name) ?? 0) + 1);
      res.writeHead(200, { "content-type": "application/json" }).end(sets.get(name));
      return;
    }
    if (url.pathname.startsWith("/_control/fetches/")) {
      const key = url.pathname.slice("/_control/fetches/".length);
      res.writeHead(200, { "content-type": "application/json" }).end(String(fetches.get(key) ?? 0));
      return;
    }
    if (url.pathname === "/siteverify" && req.method === "POST") {
      const form = new URLSearchParams(body);
      const response = form.get("response") ?? "";
      const answer = siteverify(response, spent);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function siteverify(response: string, spent: Set<string>): Record<string, unknown> {
  if (!response.startsWith("pass:")) return { success: false, "error-codes": ["invalid-input-response"] };
  if (spent.has(response)) return { success: false, "error-codes": ["timeout-or-duplicate"] };
  spent.add(response);
  const [, hostname] = response.split(":");
  return { success: true, hostname, action: "", "error-codes": [] };
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (chunk: Buffer) => {
      data += chunk.toString("utf8");
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}
