import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { API_ROUTES } from "../../../src/routes/api-routes";
import { openApiDocument } from "../../../src/routes/openapi";

/** The route ↔ document check runs in workerd (test/workers/routes/openapi.test.ts); the validator needs Node. */
describe("the OpenAPI document", () => {
  it.each(["admin", "public"] as const)("is valid OpenAPI 3.1 for the %s audience", async (audience) => {
    const document = openApiDocument(API_ROUTES, audience, "https://router.example.com");
    const result = await new Validator().validate(document as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("fails a broken document: the validator is not a formality", async () => {
    const document = openApiDocument(API_ROUTES, "public", "https://router.example.com") as Record<
      string,
      unknown
    >;
    const result = await new Validator().validate({ ...document, info: { title: "no version" } });
    expect(result.valid).toBe(false);
  });

  it("carries each inference surface's request schema, generated from the zod schema that validates it", () => {
    const document = openApiDocument(API_ROUTES, "public", "https://router.example.com") as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>
      >;
    };
    const chat =
      document.paths["/v1/chat/completions"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(chat).toMatchObject({ type: "object", required: expect.arrayContaining(["model", "messages"]) });
    expect(document.paths["/admin/tenants"]).toBeUndefined();
  });
});
