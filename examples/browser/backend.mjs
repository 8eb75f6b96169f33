// A stand-in for your app's backend: it serves the page and mints a frontend token for the signed-in
// user with a server key that never leaves this process. Run: ROUTER_KEY=sk-local-dev node backend.mjs

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";

const ROUTER = process.env.ROUTER_URL ?? "http://127.0.0.1:8787";
const port = Number(process.env.PORT ?? 8790);

createServer(async (req, res) => {
  if (req.url === "/token") {
    const user = "demo-user-1"; // your session's user id
    const minted = await fetch(`${ROUTER}/v1/frontend/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${process.env.ROUTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ sub: user, ttl_seconds: 600, origins: [`http://127.0.0.1:${port}`] }),
    });
    res.writeHead(minted.status, { "content-type": "application/json" }).end(await minted.text());
    return;
  }
  const page = (await readFile(new URL("index.html", import.meta.url), "utf8")).replace("%ROUTER%", ROUTER);
  res.writeHead(200, { "content-type": "text/html" }).end(page);
}).listen(port, "127.0.0.1", () => console.log(`page on http://127.0.0.1:${port}, router ${ROUTER}`));
