import { type Context, Hono } from "hono";
import { wellFormedId } from "../batch/ids";
import { SCHEDULES, type Schedule } from "../batch/schedule";
import { BATCH_ENDPOINTS } from "../batch/validate";
import { modelPrices, servedModels } from "../classify/catalog";
import { AUTO_MODEL } from "../config/models";
import type { Policy } from "../config/policy";
import type { PricePeriod } from "../config/prices";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { readJsonBody } from "../middleware/json-body";
import { refuseIfSpent } from "../tenancy/balance";
import { scopesOf } from "../tenancy/enforce";
import * as z from "../zod";
import { pageLimit } from "./files";

/** OpenAI's Batch API (issue 15), run in DeepSeek's off-peak hours unless asked otherwise. */
export const BATCH_PATHS = ["/v1/batches", "/v1/batches/:id", "/v1/batches/:id/cancel"] as const;

export const batches = new Hono<AppEnv>();

const MAX_METADATA = 16;

export const createBatch = z.object({
  input_file_id: z.string().check(z.minLength(1)),
  endpoint: z.enum(BATCH_ENDPOINTS),
  completion_window: z.literal("24h"),
  metadata: z.nullish(
    z
      .record(z.string().check(z.maxLength(64)), z.string().check(z.maxLength(512)))
      .check(z.refine((m) => Object.keys(m).length <= MAX_METADATA, `at most ${MAX_METADATA} keys`)),
  ),
  output_expires_after: z.optional(z.unknown()),
});

batches.post("/v1/batches", async (c) => {
  const { body } = await readJsonBody(c, createBatch);
  const policy = c.get("policy");
  const tenant = c.get("tenant").id;
  const metadata = body.metadata ?? null;
  if (!wellFormedId(body.input_file_id, "file-")) throw noSuchFile(body.input_file_id);
  await refuseIfBudgetSpent(c);
  const batch = await c.env.BATCHES.getByName(tenant).create({
    tenant,
    keyId: c.get("routerKey")?.id ?? null,
    inputFileId: body.input_file_id,
    endpoint: body.endpoint,
    metadata,
    schedule: scheduleOf(metadata),
    prices: priceTables(policy),
    servedModels: [...servedModels(policy)],
  });
  if (!batch) throw noSuchFile(body.input_file_id);
  return c.json(batch);
});

batches.get("/v1/batches", async (c) => {
  const limit = pageLimit(c.req.query("limit"), 100);
  const page = await c.env.BATCHES.getByName(c.get("tenant").id).list({ after: c.req.query("after"), limit });
  return c.json({
    object: "list",
    data: page.data,
    first_id: page.data[0]?.id ?? null,
    last_id: page.data.at(-1)?.id ?? null,
    has_more: page.hasMore,
  });
});

batches.get("/v1/batches/:id", async (c) => {
  const id = c.req.param("id");
  const batch = wellFormedId(id, "batch_") ? await c.env.BATCHES.getByName(c.get("tenant").id).get(id) : null;
  if (!batch) throw noSuchBatch(id);
  return c.json(batch);
});

batches.post("/v1/batches/:id/cancel", async (c) => {
  const id = c.req.param("id");
  const batch = wellFormedId(id, "batch_")
    ? await c.env.BATCHES.getByName(c.get("tenant").id).cancel(id)
    : null;
  if (!batch) throw noSuchBatch(id);
  return c.json(batch);
});

/**
 * 402 when the tenant's or key's budget is already spent: its lines would all be refused. A budget
 * that runs out midway fails the remaining lines with `budget_exhausted` when each runs, unsent.
 */
function refuseIfBudgetSpent(c: Context<AppEnv>): Promise<void> {
  const scopes = scopesOf(c.get("tenant"), c.get("routerKey"));
  const spend = { authorities: c.env.SPEND_AUTHORITY, scopes, policy: c.get("policy"), now: Date.now() };
  return refuseIfSpent(spend, "no batch can run on it");
}

/** `metadata.schedule`: "off-peak" (the default) waits for off-peak prices, "now" starts at once. */
function scheduleOf(metadata: Record<string, string> | null): Schedule {
  const asked = metadata?.schedule;
  if (asked === undefined) return "off-peak";
  if ((SCHEDULES as readonly string[]).includes(asked)) return asked as Schedule;
  throw new RouterError(
    "invalid_request",
    `metadata.schedule must be one of ${SCHEDULES.map((s) => `'${s}'`).join(", ")}.`,
    {
      param: "metadata.schedule",
    },
  );
}

/** The price tables a line naming each model may be billed under: an alias its target's, `auto` every pool model's. */
function priceTables(policy: Policy): Record<string, PricePeriod[][]> {
  const tables: Record<string, PricePeriod[][]> = {};
  const poolModels = new Set<string>();
  for (const pool of Object.values(policy.pools))
    for (const model of Object.keys(pool.models)) if (model !== "*") poolModels.add(model);
  for (const model of poolModels) tables[model] = [[...modelPrices(policy, model)]];
  for (const [alias, target] of Object.entries(policy.aliases))
    tables[alias] = [[...modelPrices(policy, target)]];
  tables[AUTO_MODEL] = [...poolModels].map((model) => [...modelPrices(policy, model)]);
  return tables;
}

function noSuchFile(id: string): RouterError {
  return new RouterError("not_found", `No such File object: ${id}`, { param: "input_file_id" });
}

function noSuchBatch(id: string): RouterError {
  return new RouterError("not_found", `No batch found with id '${id}'.`, { param: "id" });
}
