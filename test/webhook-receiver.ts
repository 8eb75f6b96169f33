import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

interface Delivery {
  id: string | undefined;
  body: string;
  /** `/hooks` for the operator's webhook; tests give tenants `/hooks/<tenant>`. */
  path: string;
}

/**
 * A loopback webhook receiver for the alert tests: `POST /hooks` records a delivery (or fails it, while
 * a matching failure is armed); `POST /_control/fail` arms `{ match, times }` failures for deliveries
 * whose body contains `match`; `GET /_control/received?match=` lists what arrived and
 * `/_control/refused` what was failed on purpose. Test files share
 * one receiver, so each matches on its own unique text.
 */
export async function startWebhookReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const received: Delivery[] = [];
  const refused: Delivery[] = [];
  const failures: Array<{ match: string; times: number }> = [];
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const url = new URL(req.url ?? "/", "http://receiver");
    if (req.method === "POST" && url.pathname.startsWith("/hooks")) {
      const armed = failures.find((f) => f.times > 0 && body.includes(f.match));
      if (armed) {
        armed.times--;
        refused.push({
          id: req.headers["x-router-alert-id"] as string | undefined,
          body,
          path: url.pathname,
        });
        res.writeHead(503).end("failing on purpose");
        return;
      }
      received.push({ id: req.headers["x-router-alert-id"] as string | undefined, body, path: url.pathname });
      res.writeHead(204).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/_control/fail") {
      failures.push(JSON.parse(body) as { match: string; times: number });
      res.writeHead(204).end();
      return;
    }
    const list = { "/_control/received": received, "/_control/refused": refused }[url.pathname];
    if (req.method === "GET" && list) {
      const match = url.searchParams.get("match") ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(list.filter((d) => d.body.includes(match))));
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

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (chunk: Buffer) => {
      data += chunk.toString();
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}
