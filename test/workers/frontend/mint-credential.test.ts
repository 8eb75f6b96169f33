import { describe, expect, it } from "vitest";
import { chatBody } from "../helpers";
import { call, frontendTenant } from "./support";

/**
 * A configured key's token names the key that minted it; that must be the key authentication accepted.
 * With an `Authorization` header that is not a bearer credential, authentication uses `x-api-key`: a
 * token minted so must serve, not be refused later as minted by a key that is "no longer configured".
 */
describe("minting with a configured key sent as x-api-key", () => {
  it.each([
    ["another scheme in Authorization", "Token not-a-router-key"],
    ["two words after Bearer", "Bearer not-a key"],
  ])("with %s mints a token that serves", async (_, authorization) => {
    const { key, tenants } = await frontendTenant();
    const minted = await call(tenants, "/v1/frontend/tokens", {
      key: null,
      json: { sub: "alice" },
      headers: { authorization, "x-api-key": key },
    });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const chat = await call(tenants, "/v1/chat/completions", { key: token, json: chatBody() });
    expect(chat.status, await chat.clone().text()).toBe(200);
  });
});
