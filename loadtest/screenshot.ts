import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Debian's package; the kit never downloads a browser of its own. */
const CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

interface ScreenshotOptions {
  width?: number;
  height?: number;
  timeoutMs?: number;
  /** Virtual time the page may run (timers, polling) before the shot; for live pages. */
  virtualTimeMs?: number;
}

/**
 * Renders a local HTML file (or a loopback http URL) in headless Chromium and writes a PNG. Flags keep
 * the browser off the network and off the user's profile; the page itself needs nothing from outside.
 */
export async function screenshot(
  htmlPath: string,
  pngPath: string,
  options: ScreenshotOptions = {},
): Promise<void> {
  const chromium = findChromium();
  if (!chromium) throw new Error("chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH)");
  const profile = await mkdtemp(join(tmpdir(), "loadtest-chromium-"));
  const out = resolve(pngPath);
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    `--user-data-dir=${profile}`,
    `--screenshot=${out}`,
    `--window-size=${options.width ?? 1400},${options.height ?? 1800}`,
    ...(options.virtualTimeMs ? [`--virtual-time-budget=${options.virtualTimeMs}`] : []),
    /^https?:\/\//.test(htmlPath) ? htmlPath : pathToFileURL(resolve(htmlPath)).href,
  ];
  try {
    await new Promise<void>((done, fail) => {
      const child = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
      child.on("error", fail);
      child.on("close", (code) => {
        clearTimeout(timer);
        if (code === 0) done();
        else
          fail(new Error(`chromium exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`));
      });
    });
    const s = await stat(out).catch(() => undefined);
    if (!s || s.size === 0) throw new Error(`chromium wrote no screenshot at ${out}`);
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [html, png] = process.argv.slice(2);
  if (!html || !png) {
    console.error("usage: npx tsx loadtest/screenshot.ts <report.html> <out.png>");
    process.exitCode = 2;
  } else if (!findChromium()) {
    console.error(
      "screenshot: chromium is not installed (Debian: apt-get install -y chromium). Nothing was rendered.",
    );
    process.exitCode = 3;
  } else {
    screenshot(html, png).then(
      () => console.log(`wrote ${resolve(png)}`),
      (err: unknown) => {
        console.error(`screenshot: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      },
    );
  }
}
