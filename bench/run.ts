import { fileURLToPath } from "node:url";
import { runBenchCli } from "./lib/cli";
import { scenarios } from "./scenarios/index";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

runBenchCli(process.argv.slice(2), scenarios, { root: ROOT, print: (line) => console.log(line) }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
