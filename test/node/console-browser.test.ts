import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findChromium } from "../../loadtest/screenshot";
import { consoleWalkthrough } from "../../scripts/console-e2e";

describe("the operator console in headless Chromium", () => {
  it("creates a tenant and a key, sees the key's spend, rotates and disables it", async (ctx) => {
    // As the load-test report's browser test: it runs where Chromium is installed (apt-get install -y chromium).
    if (!findChromium()) ctx.skip();
    const steps: string[] = [];
    await consoleWalkthrough(await mkdtemp(join(tmpdir(), "console-shots-")), (line) => steps.push(line));
    expect(steps).toContain("disabled the key: the router refuses it within the key cache's TTL");
    expect(steps).toHaveLength(11);
  }, 120_000);
});
