import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/app";
import { openApiPath } from "../../../src/routes/openapi";
import { sha256Hex } from "../cache/support";
import { callWithUpstream } from "../helpers";

const ADMIN_KEY = "sk-admin-openapi-0000000000000000";
let adminDigest: string;

beforeAll(async () => {
  adminDigest = await sha256Hex(ADMIN_KEY);
});

interface Document {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
}

async function fetchDocument(path: string, key: string | null): Promise<Document> {
  const response = await callWithUpstream(
    env.DEEPSEEK_BASE_URL,
    path,
    { key },
    { ROUTER_ADMIN_KEY: adminDigest },
  );
  expect(response.status).toBe(200);
  return response.json();
}

/** Operations another route's handler answers (routes/requests.ts says why insights share the record's). */
const SHARED_ROUTES = ["GET /v1/requests/insights", "GET /admin/requests/insights"];

/** `GET /v1/batches/{id}` for each route a request can reach, leaving out middleware and the 405 refusals. */
function appOperations(): string[] {
  const operations = createApp()
    .routes.filter((route) => route.method !== "ALL" && route.handler.name !== "refuseMethod")
    .filter((route) => !["requireAdmin", "withPolicy"].includes(route.handler.name))
    .map((route) => `${route.method} ${openApiPath(route.path)}`);
  return [...new Set([...operations, ...SHARED_ROUTES])].sort();
}

function documentOperations(document: Document): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe("/openapi.json", () => {
  it("describes every route the app registers, and no route it does not", async () => {
    const document = await fetchDocument("/admin/openapi.json", ADMIN_KEY);
    expect(documentOperations(document)).toEqual(appOperations());
  });

  it("is public without the admin endpoints; the whole document needs the admin key", async () => {
    const open = await fetchDocument("/openapi.json", null);
    expect(open.openapi).toBe("3.1.0");
    expect(Object.keys(open.paths)).toContain("/v1/chat/completions");
    expect(
      Object.keys(open.paths).filter((path) => path.startsWith("/admin") || path === "/metrics"),
    ).toEqual([]);
    const refused = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/admin/openapi.json",
      { key: null },
      {
        ROUTER_ADMIN_KEY: adminDigest,
      },
    );
    expect(refused.status).toBe(401);
  });
});
