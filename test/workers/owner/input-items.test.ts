import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import type { StreamOwner } from "../../../src/index";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import { createSim, openaiClient } from "../helpers";
import { clientWith } from "./support";

const MODEL = "deepseek-v4-flash";

/** Every item of a list, following its pages as the SDK does. */
async function allItems(page: AsyncIterable<OpenAI.Responses.ResponseItem>) {
  const items: OpenAI.Responses.ResponseItem[] = [];
  for await (const item of page) items.push(item);
  return items;
}

function textOf(item: OpenAI.Responses.ResponseItem | undefined): string | undefined {
  if (item?.type !== "message") return undefined;
  const part = item.content[0];
  return part && "text" in part ? part.text : undefined;
}

describe("GET /v1/responses/{id}/input_items, through the openai SDK", () => {
  it("lists a stored response's input as it was given, newest first, with stable ids", async () => {
    const sim = await createSim();
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const given = [
      { role: "developer" as const, content: "Answer in French." },
      {
        type: "message" as const,
        role: "user" as const,
        content: [{ type: "input_text" as const, text: "Hi" }],
      },
      { role: "assistant" as const, content: "Bonjour." },
      { role: "user" as const, content: "And goodbye?" },
    ];
    const created = await openai.responses.create({
      model: MODEL,
      input: given,
      reasoning: { effort: "none" },
      store: true,
    });
    const page = await openai.responses.inputItems.list(created.id);
    expect(page.data.map(textOf)).toEqual(["And goodbye?", "Bonjour.", "Hi", "Answer in French."]);
    expect(page.data.map((item) => (item.type === "message" ? item.role : undefined))).toEqual([
      "user",
      "assistant",
      "user",
      "developer",
    ]);
    expect(page.data[1]).toMatchObject({
      type: "message",
      content: [{ type: "output_text", text: "Bonjour." }],
    });
    for (const item of page.data) expect(item.id).toMatch(/^msg_[0-9a-f]{32}$/);
    const again = await openai.responses.inputItems.list(created.id, { order: "asc" });
    expect(again.data.map((item) => item.id)).toEqual(page.data.map((item) => item.id).reverse());
    const raw = await sim.call(`/v1/responses/${created.id}/input_items?limit=2`);
    expect(await raw.json()).toEqual({
      object: "list",
      data: page.data.slice(0, 2),
      first_id: page.data[0]?.id,
      last_id: page.data[1]?.id,
      has_more: true,
    });
  });

  it("makes a string input one user message, and lists only the response's own input after a previous one", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const first = await openai.responses.create({ model: MODEL, input: "Remember 7.", store: true });
    const [only] = (await openai.responses.inputItems.list(first.id)).data;
    expect(only).toMatchObject({
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Remember 7." }],
    });
    const second = await openai.responses.create({
      model: MODEL,
      input: "Which number?",
      previous_response_id: first.id,
      store: true,
    });
    const items = await allItems(openai.responses.inputItems.list(second.id));
    expect(items.map(textOf)).toEqual(["Which number?"]);
  });

  it("pages with limit and after, and the SDK walks every page", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const input = Array.from({ length: 7 }, (_, index) => ({
      role: "user" as const,
      content: `turn ${index}`,
    }));
    const created = await openai.responses.create({ model: MODEL, input, store: true });
    const first = await openai.responses.inputItems.list(created.id, { limit: 3, order: "asc" });
    expect(first.data.map(textOf)).toEqual(["turn 0", "turn 1", "turn 2"]);
    expect(first.has_more).toBe(true);
    const second = await openai.responses.inputItems.list(created.id, {
      limit: 3,
      order: "asc",
      after: first.data.at(-1)?.id,
    });
    expect(second.data.map(textOf)).toEqual(["turn 3", "turn 4", "turn 5"]);
    const walked = await allItems(openai.responses.inputItems.list(created.id, { limit: 2 }));
    expect(walked.map(textOf)).toEqual(input.map((item) => item.content).reverse());
    await expect(openai.responses.inputItems.list(created.id, { limit: 101 })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
    await expect(
      openai.responses.inputItems.list(created.id, { after: "msg_not_here" }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("keeps tool items as they were given, with an id when they had none", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const created = await openai.responses.create({
      model: MODEL,
      store: true,
      input: [
        { role: "user", content: "Weather in Paris?" },
        { type: "function_call", call_id: "call_1", name: "weather", arguments: '{"city":"Paris"}' },
        { type: "function_call_output", call_id: "call_1", output: "18C" },
      ],
    });
    const [output, call] = (await openai.responses.inputItems.list(created.id)).data;
    expect(output).toMatchObject({ type: "function_call_output", call_id: "call_1", output: "18C" });
    expect(call).toMatchObject({ type: "function_call", name: "weather", arguments: '{"city":"Paris"}' });
    expect(output?.id).toMatch(/^fco_/);
    expect(call?.id).toMatch(/^fc_/);
  });

  it("is a 404 for another tenant, an unknown id and an unstored response, as retrieve is", async () => {
    const sim = await createSim();
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const other = openaiClient(GLOBEX_KEY, sim.baseUrl);
    const created = await openai.responses.create({ model: MODEL, input: "Mine.", store: true });
    await expect(other.responses.inputItems.list(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const unstored = await openai.responses.create({ model: MODEL, input: "Not kept." });
    await expect(openai.responses.inputItems.list(unstored.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const items = await sim.call(`/v1/responses/resp_${"0".repeat(32)}/input_items`);
    const retrieved = await sim.call(`/v1/responses/resp_${"0".repeat(32)}`);
    expect(items.status).toBe(404);
    expect(await items.json()).toEqual(await retrieved.json());
    const posted = await sim.call(`/v1/responses/${created.id}/input_items`, { method: "POST" });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET");
  });

  it("keeps the items as long as the response, and no longer", async () => {
    const openai = clientWith((await createSim()).baseUrl, { KEPT_RESPONSE_TTL_S: "60" });
    const created = await openai.responses.create({ model: MODEL, input: "Short-lived.", store: true });
    expect((await openai.responses.inputItems.list(created.id)).data).toHaveLength(1);
    await runInDurableObject(env.STREAM_OWNER.getByName(`acme/${created.id}`), (instance: StreamOwner) => {
      instance.clock = () => Date.now() + 61_000;
    });
    await expect(openai.responses.inputItems.list(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("lists the whole kept input, with stable ids, for a response kept before its own items were counted", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const created = await openai.responses.create({ model: MODEL, input: "Kept long ago.", store: true });
    await runInDurableObject(env.STREAM_OWNER.getByName(`acme/${created.id}`), (_instance, state) => {
      state.storage.sql.exec("UPDATE answer SET call = json_remove(call, '$.ownItems')");
    });
    const [item] = (await openai.responses.inputItems.list(created.id)).data;
    expect(textOf(item)).toBe("Kept long ago.");
    expect(item?.id).toBe(`msg_${created.id.slice("resp_".length, "resp_".length + 28)}0000`);
    expect((await openai.responses.inputItems.list(created.id)).data[0]?.id).toBe(item?.id);
  });
});
