import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freeLoopbackPort } from "./ports";

/** Portkey's open-source gateway, a peer the router is compared with; pinned so runs compare alike. */
export const PORTKEY_VERSION = "1.15.2";
const PACKAGE = "@portkey-ai/gateway";
/**
 * Portkey declares `@hono/node-server ^1.3.3`; the releases npm resolves today (1.14.2 on, 1.19 now)
 * keep the upstream's immutable headers in their Response, so every streamed chat completion fails
 * with 500 "Something went wrong" (Portkey-AI/gateway#1389). 1.14.1 still copies them; node-ws 1.3
 * would pull a newer node-server back in.
 */
const COMPANIONS: Record<string, string> = { "@hono/node-server": "1.14.1", "@hono/node-ws": "1.2.0" };

/**
 * Installed on demand, outside package.json (it would slow every `npm install` and CI for one bench
 * row), into a git-ignored directory that later runs reuse.
 */
const PEERS_DIR = fileURLToPath(new URL("../.peers", import.meta.url));
const PACKAGE_DIR = join(PEERS_DIR, "node_modules", ...PACKAGE.split("/"));
const INSTALL_TIMEOUT_MS = 180_000;
const START_TIMEOUT_MS = 20_000;

export interface PortkeyGateway {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /**
   * Portkey's pass-through route for a chat completion. Its `/v1/chat/completions` keeps only the
   * OpenAI parameters it knows, so DeepSeek's `thinking` never reaches the upstream, which then
   * answers with reasoning (twice the tokens); this route forwards the body as sent and the answer
   * as received, through the same pipeline (config, hooks, the stream re-chunker).
   */
  path: string;
  /** What a user sends to have Portkey forward to an OpenAI-compatible host of their own. */
  headersFor(upstreamUrl: string): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Installs (first time only) and starts Portkey's gateway on Node, as a child process running on the
 * same Node as the caller, listening on a free loopback port. Throws with the reason when either
 * step fails (e.g. no registry); the caller decides to go on without it.
 */
export async function startPortkey(log: (line: string) => void): Promise<PortkeyGateway> {
  await ensureInstalled(log);
  const port = await freeLoopbackPort();
  const child = spawn(
    process.execPath,
    [
      "--import",
      LOOPBACK_ONLY,
      join(PACKAGE_DIR, "build", "start-server.js"),
      `--port=${port}`,
      "--headless",
    ],
    // Its stdout is a spinner and a banner; stderr is kept for the reason a start failed.
    { cwd: PACKAGE_DIR, stdio: ["ignore", "ignore", "pipe"] },
  );
  const stderr = tailOf(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilListening(url, child, stderr);
  } catch (error) {
    await stop(child);
    throw error;
  }
  return {
    url,
    path: "/v1/proxy/chat/completions",
    headersFor: (upstreamUrl) => ({
      "x-portkey-provider": "openai",
      "x-portkey-custom-host": `${upstreamUrl}/v1`,
    }),
    close: () => stop(child),
  };
}

function installedVersion(name: string): string | undefined {
  const manifest = join(PEERS_DIR, "node_modules", ...name.split("/"), "package.json");
  if (!existsSync(manifest)) return undefined;
  const parsed: unknown = JSON.parse(readFileSync(manifest, "utf8"));
  const version = (parsed as { version?: unknown }).version;
  return typeof version === "string" ? version : undefined;
}

const PINNED: Record<string, string> = { [PACKAGE]: PORTKEY_VERSION, ...COMPANIONS };
const isInstalled = () =>
  Object.entries(PINNED).every(([name, version]) => installedVersion(name) === version);

async function ensureInstalled(log: (line: string) => void): Promise<void> {
  if (isInstalled()) return;
  log(`installing ${PACKAGE}@${PORTKEY_VERSION} into bench/.peers (first run only)`);
  // The npm that runs this bench when there is one (npm run sets npm_execpath), else npm on PATH.
  const npmCli = process.env.npm_execpath;
  const [command, prefix] =
    npmCli?.endsWith("npm-cli.js") === true ? [process.execPath, [npmCli]] : ["npm", [] as string[]];
  const args = [
    ...prefix,
    "install",
    "--prefix",
    PEERS_DIR,
    "--no-save",
    "--no-audit",
    "--no-fund",
    // Its only script is a patch-package postinstall with nothing to patch in the published build.
    "--ignore-scripts",
    ...Object.entries(PINNED).map(([name, version]) => `${name}@${version}`),
  ];
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  const stderr = tailOf(child);
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve("timed out");
    }, INSTALL_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve(error.message);
    });
    child.once("exit", (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode ?? "killed");
    });
  });
  if (code !== 0 || !isInstalled())
    throw new Error(`npm install ${PACKAGE}@${PORTKEY_VERSION} failed (${code}): ${oneLine(stderr())}`);
}

/**
 * The gateway calls `listen(port)` with no host, i.e. every interface; this preload pins such calls to
 * loopback, so the bench never exposes an open relay on the machine's network.
 */
const LOOPBACK_ONLY = `data:text/javascript,${encodeURIComponent(`
import net from "node:net";
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && args[1] == null) args[1] = "127.0.0.1";
  return listen.apply(this, args);
};`)}`;

/** The first lines of a child's complaint, on one line, short enough for a report's note. */
function oneLine(text: string): string {
  const lines = text.split("\n").map((line) => line.trim());
  return lines.filter(Boolean).slice(0, 3).join(" / ").slice(0, 300);
}

/** The last few KiB the child wrote to stderr. */
function tailOf(child: ChildProcess): () => string {
  let tail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-4_096);
  });
  return () => tail;
}

async function untilListening(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `Portkey's gateway exited at start (${child.exitCode ?? child.signalCode}): ${oneLine(stderr())}`,
      );
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(
    `Portkey's gateway did not listen on ${url} within ${START_TIMEOUT_MS / 1000} s: ${oneLine(stderr())}`,
  );
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}
