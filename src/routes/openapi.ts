import { Hono } from "hono";
import type { AppEnv } from "../env";
import * as z from "../zod";
import { API_ROUTES, type RouteDoc } from "./api-routes";

/**
 * The OpenAPI 3.1 document, built from {@link API_ROUTES} and the zod schemas the routes validate with
 * (zod 4 emits JSON Schema 2020-12, OpenAPI 3.1's dialect). `GET /openapi.json` is public and leaves the
 * admin endpoints out; `GET /admin/openapi.json`, behind the admin key, describes everything. Built
 * once per isolate and audience.
 */
export const openapi = new Hono<AppEnv>();
export const adminOpenapi = new Hono<AppEnv>();

openapi.get("/openapi.json", (c) => c.json(documentFor("public", new URL(c.req.url).origin)));
adminOpenapi.get("/openapi.json", (c) => c.json(documentFor("admin", new URL(c.req.url).origin)));

type Audience = "public" | "admin";
const built = new Map<string, object>();

function documentFor(audience: Audience, origin: string): object {
  const memo = `${audience} ${origin}`;
  let document = built.get(memo);
  if (!document) {
    document = openApiDocument(API_ROUTES, audience, origin);
    built.set(memo, document);
  }
  return document;
}

const ERROR = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        message: { type: "string" },
        type: { type: "string" },
        param: { type: ["string", "null"] },
        code: { type: ["string", "null"] },
      },
      required: ["message", "type"],
    },
  },
  required: ["error"],
};
const ANTHROPIC_ERROR = {
  type: "object",
  properties: {
    type: { const: "error" },
    error: { type: "object", properties: { type: { type: "string" }, message: { type: "string" } } },
  },
  required: ["type", "error"],
};

export function openApiDocument(routes: readonly RouteDoc[], audience: Audience, origin: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    if (route.auth === "admin" && audience !== "admin") continue;
    for (const path of route.paths) {
      const key = openApiPath(path);
      paths[key] = { ...paths[key], [route.method]: operation(route, path) };
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "DeepSeek edge router",
      version: "1",
      description:
        "The router's own endpoints and each inference surface's request shape as the router accepts it. " +
        "The admin endpoints are in /admin/openapi.json (admin key).",
    },
    servers: [{ url: origin }],
    components: {
      securitySchemes: {
        routerKey: { type: "http", scheme: "bearer", description: "A tenant's router key" },
        routerApiKey: {
          type: "apiKey",
          in: "header",
          name: "x-api-key",
          description: "The router key, as Anthropic's SDKs send it",
        },
        adminKey: {
          type: "http",
          scheme: "bearer",
          description: "The admin key (ROUTER_ADMIN_KEY holds its digest)",
        },
      },
      schemas: { Error: ERROR, AnthropicError: ANTHROPIC_ERROR },
    },
    paths,
  };
}

function operation(route: RouteDoc, path: string): object {
  const params = [...path.matchAll(/:(\w+)/g)].map((match) => ({
    name: match[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  const query = (route.query ?? []).map((name) => ({
    name,
    in: "query",
    required: false,
    schema: { type: "string" },
  }));
  const error = { $ref: `#/components/schemas/${route.anthropic ? "AnthropicError" : "Error"}` };
  return {
    operationId: operationId(route.method, path),
    summary: route.summary,
    tags: [route.tag],
    ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
    ...(route.body ? { requestBody: requestBody(route.body) } : {}),
    security: security(route.auth),
    responses: {
      "200": {
        description: route.produces ? `Success: ${route.produces}` : "Success",
        content: {
          [route.produces?.startsWith("text/") ? route.produces : "application/json"]: { schema: {} },
        },
      },
      default: {
        description: "An error, in the surface's envelope",
        content: { "application/json": { schema: error } },
      },
    },
  };
}

function requestBody(body: NonNullable<RouteDoc["body"]>): object {
  if (body === "multipart") {
    return {
      required: true,
      content: {
        "multipart/form-data": {
          schema: {
            type: "object",
            properties: {
              file: { type: "string", contentMediaType: "application/jsonl" },
              purpose: { const: "batch" },
            },
            required: ["file", "purpose"],
          },
        },
      },
    };
  }
  return { required: true, content: { "application/json": { schema: jsonSchema(body) } } };
}

function jsonSchema(schema: z.ZodMiniType): object {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  });
  return rest;
}

function security(auth: RouteDoc["auth"]): object[] {
  if (auth === "none") return [];
  if (auth === "admin") return [{ adminKey: [] }];
  return [{ routerKey: [] }, { routerApiKey: [] }];
}

/** `/v1/batches/:id` → `/v1/batches/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, "{$1}");
}

function operationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return [method, ...words]
    .map((word, i) => (i === 0 ? word : word[0]?.toUpperCase() + word.slice(1)))
    .join("");
}
