import { strict as assert } from "node:assert";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import OpenAI from "openai";
import { chromium, type Page } from "playwright-core";
import { findChromium } from "../loadtest/screenshot";
import { ROOT } from "./build";
import { adminKeyDigest, LOCAL_ADMIN_KEY } from "./local-config";
import { startLocalStack } from "./stack";

/**
 * `npx tsx scripts/console-e2e.ts [dir]`: the operator console in headless Chromium against the local
 * stack, as an operator would use it: create a tenant, create a key (secret shown once), call the router
 * with it through the `openai` SDK, see its spend, rotate it, disable it; each screen is shot into
 * <dir> (default docs/img). Exits non-zero on the first step that does not behave. Loopback only.
 * test/node/console-browser.test.ts runs it in the suite when Chromium is installed.
 */
export async function consoleWalkthrough(
  dir: string,
  log: (line: string) => void = console.log,
): Promise<void> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("chromium is not installed (Debian: apt-get install -y chromium)");
  await mkdir(dir, { recursive: true });
  const stack = await startLocalStack({
    sim: { ttftMs: 50, tokensPerS: 400 },
    vars: { ROUTER_ADMIN_KEY: adminKeyDigest(), METRICS_FLUSH_MS: "500", ROUTER_KEY_CACHE_MS: "1000" },
  });
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    await walk(await browser.newPage({ viewport: { width: 1500, height: 900 } }), stack.routerUrl, dir, log);
  } finally {
    await browser.close();
    await stack.close();
  }
}

interface Walk {
  page: Page;
  routerUrl: string;
  tenant: string;
  step: (line: string) => void;
  shoot: (file: string) => Promise<unknown>;
  client: (apiKey: string) => OpenAI;
}

async function walk(page: Page, routerUrl: string, dir: string, step: (line: string) => void): Promise<void> {
  const walk: Walk = {
    page,
    routerUrl,
    step,
    tenant: `team-${Date.now().toString(36)}`,
    shoot: (file) => page.screenshot({ path: `${dir}/${file}`, fullPage: true }),
    client: (apiKey) => new OpenAI({ apiKey, baseURL: `${routerUrl}/v1`, maxRetries: 0 }),
  };
  page.on("dialog", (dialog) => void dialog.accept());
  await createTenant(walk);
  const first = await createKey(walk);
  await seeSpend(walk);
  await rotateAndDisable(walk, first);
  for (const tab of ["batches", "cache", "alerts"]) {
    await page.locator(`[role=tab][data-tab=${tab}]`).click();
    await page.locator(`#${tab} table tr`).first().waitFor();
    await walk.shoot(`console-${tab}.png`);
  }
  step("batches, cache and alerts render");
  assert.equal(await page.locator("#error").textContent(), "");
}

async function createTenant({ page, routerUrl, tenant, step }: Walk): Promise<void> {
  await page.goto(`${routerUrl}/operator/console#key=${LOCAL_ADMIN_KEY}`);
  await page.locator("#tenant-table", { hasText: "local-batch" }).waitFor();
  step("the console lists the configured tenants");
  // Forms check before sending: an id the API would refuse never leaves the page…
  const form = page.locator("#tenant-form");
  await form.locator("[name=id]").fill("bad id!");
  await form.locator("button[type=submit]").click();
  assert.equal(await form.locator("[name=id]:invalid").count(), 1);
  // …and the API's own message shows when it refuses: a configured tenant is pinned.
  await form.locator("[name=id]").fill("local");
  await form.locator("button[type=submit]").click();
  await page.locator("#error", { hasText: "ROUTER_TENANTS" }).waitFor();
  step("forms validate before sending and show the API's error");
  await form.locator("[name=id]").fill(tenant);
  await form.locator("[name=maxPriority]").selectOption("normal");
  await form.locator("[name=usdPerDay]").fill("5");
  await form.locator("[name=requestsPerMinute]").fill("600");
  await form.locator("[name=lease]").fill("0");
  await form.locator("[name=cache]").selectOption("deterministic");
  await form.locator("button[type=submit]").click();
  await page.locator("#tenant-table tr", { hasText: tenant }).waitFor();
  step(`created tenant ${tenant}`);
}

/** Creates a key from the tenant's row and returns its secret, read from the once-only box. */
async function createKey({ page, tenant, step, shoot, client }: Walk): Promise<string> {
  await page.locator(`button[data-act=tenant-keys][data-id="${tenant}"]`).click();
  const keyForm = page.locator("#key-form");
  await keyForm.locator("[name=name]").fill("ci runner");
  await keyForm.locator("[name=usdPerDay]").fill("1");
  await keyForm.locator("button[type=submit]").click();
  await page.locator("#secret").waitFor({ state: "visible" });
  const secret = await page.locator("#secret-value").inputValue();
  assert.match(secret, /^sk-rt-[A-Za-z0-9_-]{43}$/);
  assert.ok(
    !(await page.locator("#key-table").textContent())?.includes(secret),
    "the list never shows a secret",
  );
  await page.locator("#copy").click();
  await page.locator("#copied", { hasText: "copied" }).waitFor();
  await shoot("console-keys.png");
  step("created a key; its secret is shown once, with a copy button");
  const answer = await client(secret).chat.completions.create({
    model: "deepseek-v4-flash",
    messages: [{ role: "user", content: "Hello from the console test." }],
  });
  assert.ok(answer.choices[0]?.message.content);
  step("the key works with the openai SDK");
  return secret;
}

async function seeSpend({ page, routerUrl, tenant, step, shoot }: Walk): Promise<void> {
  await until(async () => {
    await page.locator("[role=tab][data-tab=tenants]").click();
    const row = page.locator("#tenant-table tr", { hasText: tenant });
    await row.waitFor();
    return Number((await row.locator("td").nth(10).textContent()) ?? "0") > 0;
  }, "the tenant's spend to appear");
  // Editing a limit shows its burn beside it; the change shows in the table.
  await page.locator(`button[data-act=edit-tenant][data-id="${tenant}"]`).click();
  await page.locator("[data-burn=usd-day]", { hasText: "used" }).waitFor();
  await shoot("console-tenants.png");
  await page.locator("#tenant-form [name=usdPerDay]").fill("6");
  await page.locator("#tenant-form button[type=submit]").click();
  await page.locator("#tenant-table tr", { hasText: tenant }).locator("td", { hasText: "/ 6" }).waitFor();
  // Saved from the form, the tenant keeps every setting the edit did not touch.
  const saved = (await (
    await fetch(`${routerUrl}/admin/tenants/${tenant}`, {
      headers: { authorization: `Bearer ${LOCAL_ADMIN_KEY}` },
    })
  ).json()) as { cache?: string; limits?: { lease?: number; usdPerDay?: number } };
  assert.deepEqual([saved.cache, saved.limits?.lease, saved.limits?.usdPerDay], ["deterministic", 0, 6]);
  await page.locator("[role=tab][data-tab=budgets]").click();
  await page.locator("#budget-table tr", { hasText: tenant }).first().waitFor();
  await shoot("console-budgets.png");
  step("spend appears beside the tenant's limits, in its edit form and in the budgets");
  // Keyboard: the tab list follows the arrow keys.
  await page.locator("[role=tab][data-tab=budgets]").focus();
  await page.keyboard.press("ArrowLeft");
  assert.equal(await page.locator("[role=tab][data-tab=keys]").getAttribute("aria-selected"), "true");
  const keyRow = page.locator("#key-table tr", { hasText: "ci runner" });
  // The table is re-rendered when the tab opens: the row read before may be the one from before the call.
  await until(async () => (await keyRow.locator("td").nth(5).textContent()) !== "—", "the key's last use");
  step("arrow keys move between tabs; the key shows when it was last used");
}

async function rotateAndDisable({ page, step, shoot, client }: Walk, first: string): Promise<void> {
  await page.locator("#key-table button[data-act=rotate-key]").click();
  await until(async () => (await page.locator("#secret-value").inputValue()) !== first, "the rotated secret");
  const second = await page.locator("#secret-value").inputValue();
  const secrets = page.locator("#key-table tr", { hasText: "ci runner" }).locator("td").nth(2);
  await until(async () => (await secrets.textContent())?.includes(second.slice(-4)) ?? false, "the new hint");
  assert.ok((await client(first).models.list()).data.length > 0, "the old secret works during its grace");
  assert.ok((await client(second).models.list()).data.length > 0);
  step("rotated the key; both secrets work during the grace period");
  await page.locator("#key-table button[data-act=toggle-key]").click();
  await page.locator("#key-table td.err", { hasText: "disabled" }).waitFor();
  const status = (key: string) =>
    client(key)
      .models.list()
      .then(
        () => 200,
        (error: { status?: number }) => error.status ?? 0,
      );
  await until(async () => (await status(second)) === 401, "the disabled key to be refused");
  await shoot("console-keys-disabled.png");
  step("disabled the key: the router refuses it within the key cache's TTL");
  // The rotated secret is this tenant's: another tenant's keys never show under it.
  await page.locator("[role=tab][data-tab=tenants]").click();
  await page.locator('button[data-act=tenant-keys][data-id="local"]').click();
  const keyTable = page.locator("#key-table");
  await until(async () => !(await keyTable.textContent())?.includes("ci runner"), "the other tenant's keys");
  assert.equal(await page.locator("#secret").isHidden(), true, "another tenant's keys show no secret");
  step("another tenant's keys show without the last secret");
}

/** Polls `check` (bounded: 15 s) for something the router does in the background. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((done) => setTimeout(done, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await consoleWalkthrough(resolve(process.argv[2] ?? `${ROOT}docs/img`), (line) =>
    console.log(`ok - ${line}`),
  );
}
