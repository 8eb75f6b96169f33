import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../../scripts/build";
import { LOCAL_FRONTEND_SIGNING_KEY, LOCAL_ROUTER_KEY, tenantsConfig } from "../../../scripts/local-config";
import { type LocalStack, startLocalStack } from "../../../scripts/stack";

/** Debian's Chromium (`apt-get install -y chromium`); browser downloads do not work here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * A page on another origin than the router, loading the official openai SDK as ES modules straight
 * from node_modules; `window.chat(routerUrl, apiKey)` streams one answer and reports what a page sees.
 */
const PAGE = `<!doctype html><html lang="en"><body><script type="module">
import OpenAI from "/sdk/openai/index.mjs";
import Anthropic from "/sdk/anthropic.mjs";
window.message = async (routerUrl, apiKey) => {
  const client = new Anthropic({ baseURL: routerUrl + "/anthropic", apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
  try {
    const { data: stream, response } = await client.messages
      .create({ model: "deepseek-v4-flash", max_tokens: 64, stream: true, thinking: { type: "disabled" }, messages: [{ role: "user", content: "Hello from a page" }] })
      .withResponse();
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    return { ok: true, text, requestId: response.headers.get("x-request-id"), remaining: response.headers.get("x-ratelimit-remaining-requests") };
  } catch (error) {
    return { ok: false, status: error.status, message: String(error.message) };
  }
};
window.chat = async (routerUrl, apiKey) => {
  const client = new OpenAI({ baseURL: routerUrl + "/v1", apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
  try {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "deepseek-v4-flash", stream: true, messages: [{ role: "user", content: "Hello from a page" }] })
      .withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return {
      ok: true, text,
      requestId: response.headers.get("x-request-id"),
      remaining: response.headers.get("x-ratelimit-remaining-requests"),
    };
  } catch (error) {
    return { ok: false, status: error.status, code: error.code, message: String(error.message) };
  }
};
window.ready = true;
</script></body></html>`;

const TYPES: Record<string, string> = { ".mjs": "text/javascript", ".js": "text/javascript" };

/**
 * The Anthropic SDK as one browser module: its ES build imports @opentelemetry/api by bare name, which
 * a page cannot resolve, so it is bundled as an app's bundler would.
 */
async function anthropicBundle(): Promise<string> {
  const result = await build({
    stdin: { contents: 'export { default } from "@anthropic-ai/sdk";', resolveDir: ROOT },
    bundle: true,
    format: "esm",
    platform: "browser",
    external: ["node:*"],
    write: false,
    logLevel: "error",
  });
  return result.outputFiles[0]?.text ?? "";
}

/** The page and the SDKs' modules, on a loopback origin of their own. */
async function startPageServer(): Promise<{ url: string; server: Server }> {
  const sdk = join(ROOT, "node_modules/openai");
  const anthropic = await anthropicBundle();
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://page").pathname;
    if (path === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    if (path === "/sdk/anthropic.mjs") {
      return void res.writeHead(200, { "content-type": "text/javascript" }).end(anthropic);
    }
    const file = normalize(join(sdk, path.replace(/^\/sdk\/openai\//, "")));
    if (!path.startsWith("/sdk/openai/") || !file.startsWith(sdk)) return void res.writeHead(404).end();
    try {
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "text/plain" }).end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(!existsSync(CHROMIUM))(
  "the openai and Anthropic SDKs in headless Chromium, on another origin",
  () => {
    let stack: LocalStack;
    let page: { url: string; server: Server };
    let browser: Browser;

    beforeAll(async () => {
      const tenants = tenantsConfig([
        { id: "local", key: LOCAL_ROUTER_KEY, frontend: { mint: true, perUser: { requestsPerMinute: 50 } } },
      ]);
      stack = await startLocalStack({
        vars: { ROUTER_TENANTS: tenants, FRONTEND_SIGNING_KEY: LOCAL_FRONTEND_SIGNING_KEY },
      });
      page = await startPageServer();
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => page?.server.close(resolve));
      await stack?.close();
    });

    async function mint(body: Record<string, unknown>): Promise<string> {
      const response = await fetch(`${stack.routerUrl}/v1/frontend/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${LOCAL_ROUTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { token: string }).token;
    }

    async function chatFromPage(apiKey: string, call: "chat" | "message" = "chat") {
      const tab = await browser.newPage();
      await tab.goto(page.url);
      await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      const result = await tab.evaluate(
        ([routerUrl, key, fn]) =>
          (window as unknown as Record<string, (u: string, k: string) => Promise<unknown>>)[fn as string]?.(
            routerUrl as string,
            key as string,
          ),
        [stack.routerUrl, apiKey, call],
      );
      await tab.close();
      return result as {
        ok: boolean;
        text?: string;
        requestId?: string;
        remaining?: string;
        status?: number;
        code?: string;
      };
    }

    it("streams a chat answer with a frontend token: preflight passes, stream arrives, headers readable", async () => {
      const token = await mint({ sub: "browser-user", origins: [page.url] });
      const result = await chatFromPage(token);
      expect(result.ok).toBe(true);
      expect(result.text?.length).toBeGreaterThan(0);
      expect(result.requestId).toMatch(/\S+/);
      expect(result.remaining).toBe("49");
    }, 60_000);

    it("streams a Messages answer through @anthropic-ai/sdk with the token as its x-api-key", async () => {
      const token = await mint({ sub: "browser-user-2", origins: [page.url] });
      const result = await chatFromPage(token, "message");
      expect(result.ok, JSON.stringify(result)).toBe(true);
      expect(result.text?.length).toBeGreaterThan(0);
      expect(result.requestId).toMatch(/\S+/);
      expect(result.remaining).toBe("49");
    }, 60_000);

    it("refuses the server key from the same page, pointing to frontend tokens", async () => {
      const result = await chatFromPage(LOCAL_ROUTER_KEY);
      expect(result).toMatchObject({ ok: false, status: 403, code: "server_key_in_browser" });
    }, 60_000);

    it("refuses a token bound to another origin", async () => {
      const token = await mint({ sub: "browser-user", origins: ["https://app.example"] });
      const result = await chatFromPage(token);
      expect(result).toMatchObject({ ok: false, status: 403, code: "origin_not_allowed" });
    }, 60_000);
  },
);
