import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../../src/env";
import { stampResponse } from "../../../src/middleware/stamp";

/** A route whose answer came from elsewhere with immutable headers, stamped on its way out. */
function appAnswering(answer: () => Response): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    await next();
    stampResponse(c, "x-request-id", "req-1");
    stampResponse(c, "vary", "Origin", { append: true });
  });
  app.get("/", () => answer());
  return app;
}

describe("stampResponse", () => {
  it("stamps an answer the router built, in place", async () => {
    const response = await appAnswering(() => new Response("hi", { headers: { vary: "Accept" } })).request(
      "/",
    );
    expect(response.headers.get("x-request-id")).toBe("req-1");
    expect(response.headers.get("vary")).toBe("Accept, Origin");
    expect(await response.text()).toBe("hi");
  });

  it("stamps an answer whose headers are immutable, keeping its status, headers and body", async () => {
    const immutable = Response.redirect("https://example.com/next", 302);
    expect(() => immutable.headers.set("x-probe", "1")).toThrow();
    const response = await appAnswering(() => Response.redirect("https://example.com/next", 302)).request(
      "/",
    );
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://example.com/next");
    expect(response.headers.get("x-request-id")).toBe("req-1");
    expect(response.headers.get("vary")).toBe("Origin");
  });
});
