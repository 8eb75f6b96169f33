import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type CliOptions, isLoopbackUrl, parseArgs, USAGE } from "./args";
import { progressLine } from "./progress";
import { buildReport } from "./report/model";
import { renderSummary } from "./report/summary";
import { defaultOutDir, writeReports } from "./report/write";
import { runScenario } from "./runner";
import {
  applyOverrides,
  BUILTIN_SCENARIOS,
  describeLoad,
  type Scenario,
  scenarioFromJson,
} from "./scenarios";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What `scripts/stack.ts` provides; typed here so this file does not depend on it at compile time. */
interface LocalStackHandle {
  routerUrl: string;
  simUrl: string;
  routerKey: string;
  close(): Promise<void>;
}
interface LocalStackModule {
  startLocalStack(opts?: { sim?: Record<string, unknown>; routerPort?: number }): Promise<LocalStackHandle>;
}

/** The CLI. Returns the process exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parseArgs(argv, env);
  if (!parsed.ok) {
    console.error(`loadtest: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const cli = parsed.options;
  if (cli.help) {
    console.log(USAGE);
    return 0;
  }
  if (cli.list) {
    for (const s of Object.values(BUILTIN_SCENARIOS)) console.log(`${s.name.padEnd(10)} ${s.description}`);
    return 0;
  }
  let scenario: Scenario;
  try {
    scenario = applyOverrides(await resolveScenario(cli), cli.overrides);
  } catch (err) {
    console.error(`loadtest: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  let stack: LocalStackHandle | undefined;
  let baseUrl = cli.baseUrl;
  let key = cli.key;
  if (cli.local) {
    console.log("Starting the local simulator and router…");
    const mod = (await import(new URL("../scripts/stack.ts", import.meta.url).href)) as LocalStackModule;
    stack = await mod.startLocalStack({ sim: scenario.local?.sim });
    baseUrl = stack.routerUrl;
    if (!cli.keyGiven) key = stack.routerKey;
    console.log(`Router at ${stack.routerUrl}, simulator at ${stack.simUrl}`);
  }
  try {
    if (!cli.allowRemote && !isLoopbackUrl(baseUrl)) {
      console.error(`loadtest: refusing non-loopback target ${baseUrl}; pass --allow-remote if you mean it.`);
      return 2;
    }
    return await runAndReport(cli, scenario, baseUrl, key);
  } finally {
    await stack?.close();
  }
}

async function runAndReport(
  cli: CliOptions,
  scenario: Scenario,
  baseUrl: string,
  key: string,
): Promise<number> {
  console.log(
    `Scenario ${scenario.name}: ${describeLoad(scenario.load)} for ${scenario.durationS} s ` +
      `(≤ ${scenario.maxRequests} requests, ≤ ${scenario.maxInFlight} in flight) against ${baseUrl}`,
  );
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    console.error("\nInterrupted: stopping and writing the report (Ctrl-C again to quit at once)…");
    abort.abort();
  };
  // Miniflare (--local) installs a SIGINT hook that exits at once; during the run Ctrl-C must mean
  // "stop and write the report", so other SIGINT listeners are set aside until the run ends.
  const saved = process.listeners("SIGINT");
  process.removeAllListeners("SIGINT");
  process.on("SIGINT", onSigint);
  const tty = process.stdout.isTTY === true && !cli.quiet;
  let lastPrinted = 0;
  const started = new Date();
  const result = await runScenario({
    baseUrl,
    key,
    scenario,
    signal: abort.signal,
    onProgress: (p) => {
      if (cli.quiet) return;
      if (tty) process.stdout.write(`\r\x1b[2K${progressLine(p)}`);
      else if (p.elapsedS - lastPrinted >= 5) {
        lastPrinted = p.elapsedS;
        console.log(progressLine(p));
      }
    },
  }).finally(() => {
    process.removeListener("SIGINT", onSigint);
    for (const listener of saved) process.on("SIGINT", listener);
  });
  if (tty) process.stdout.write("\n");
  const report = buildReport(result);
  const dir = cli.out ? resolve(cli.out) : defaultOutDir(ROOT, scenario.name, started);
  const files = await writeReports(dir, report, { html: cli.html });
  console.log(`\n${renderSummary(report)}`);
  console.log(
    `Reports: ${files.json}${files.html ? `\n         ${files.html}` : ""}\n         ${files.summary}`,
  );
  return 0;
}

async function resolveScenario(cli: CliOptions): Promise<Scenario> {
  const name = cli.scenario;
  const file = cli.file ?? (name && /\.(json|ya?ml)$/i.test(name) ? name : undefined);
  if (file) {
    if (/\.ya?ml$/i.test(file)) throw new Error("scenario files are JSON; YAML is not supported");
    const text = await readFile(file, "utf8");
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    return scenarioFromJson(raw, basename(file).replace(/\.json$/i, ""));
  }
  if (!name)
    throw new Error(`name a scenario: ${Object.keys(BUILTIN_SCENARIOS).join(", ")}, or custom --file x.json`);
  if (name === "custom") throw new Error("custom needs --file <scenario.json>");
  const builtin = BUILTIN_SCENARIOS[name];
  if (!builtin) throw new Error(`unknown scenario "${name}"; try --list`);
  return builtin;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
