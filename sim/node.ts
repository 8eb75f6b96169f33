import { readFileSync, realpathSync } from "node:fs";
import type { Server } from "node:http";
import { pathToFileURL } from "node:url";
import { type Http2Bindings, type HttpBindings, serve } from "@hono/node-server";
import { CliError, helpText, parseCli } from "./cli";
import { buildSimHost, type SimHost } from "./host";
import type { SimOptionsPatch } from "./options";
import { mergeSimOptions, parseSimOptions, SimOptionsError } from "./options";

export interface SimServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** The in-process host behind the server (default instance at `host.root`). */
  host: SimHost;
  /** Stops listening and drops open connections (their streams are cancelled). */
  close(): Promise<void>;
}

/**
 * When a body stream fails (an injected cut), close the socket after what was already written instead
 * of letting the adapter append an error text: the client sees a connection dropped mid-response.
 */
type Bindings = HttpBindings | Http2Bindings;

function resetOnError(res: Response, outgoing: Bindings["outgoing"]): Response {
  if (!res.body) return res;
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch {
          outgoing.socket?.end();
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    // Pulled only when the adapter asks, so everything read before the failure has been written out.
    { highWaterMark: 0 },
  );
  return new Response(body, res);
}

/** Serves a simulator host on Node (127.0.0.1 unless `hostname` says otherwise; port 0 = ephemeral). */
export async function startSimServer(
  opts: { port?: number; hostname?: string } & SimOptionsPatch = {},
): Promise<SimServer> {
  const { port = 0, hostname = "127.0.0.1", ...options } = opts;
  const host = buildSimHost(options);
  return new Promise((resolve, reject) => {
    const fetch = async (req: Request, env: Bindings) =>
      resetOnError(await host.app.fetch(req, env), env.outgoing);
    const server = serve({ fetch, port, hostname }, (info) => {
      server.off("error", reject);
      const http = server as Server;
      resolve({
        url: `http://${hostname}:${info.port}`,
        port: info.port,
        host,
        close: () =>
          new Promise<void>((done) => {
            http.close(() => done());
            http.closeAllConnections();
          }),
      });
    });
    server.once("error", reject);
  });
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2), process.env);
  if (cli.help) {
    console.log(helpText());
    return;
  }
  const file: unknown = cli.config ? JSON.parse(readFileSync(cli.config, "utf8")) : {};
  const options = mergeSimOptions(parseSimOptions(file), cli.patch);
  const sim = await startSimServer({ ...options, port: cli.port });
  const faults = options.faultScript.length > 0 ? `, ${options.faultScript.length} scripted faults` : "";
  console.log(
    `DeepSeek simulator listening on ${sim.url} (era ${options.era}, concurrency ${options.concurrency || "unlimited"}/${options.overload}, ttft ${options.ttftMs} ms, ${options.tokensPerS || "unpaced"} tok/s${faults})`,
  );
  const stop = () => {
    sim.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().catch((e: unknown) => {
    const known = e instanceof CliError || e instanceof SimOptionsError;
    console.error(known ? `sim: ${e.message}` : e);
    process.exit(known ? 2 : 1);
  });
}
